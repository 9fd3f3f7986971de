#include "common/client/time_rules.h"

#include <fmt/format.h>

namespace chainfs {

absl::Status ApplySetAttributes(const v1::SetAttributesRequest& req, int64_t now_ns,
                                v1::Attributes* attrs) {
  const v1::Attributes& in = req.attributes();
  if (req.set_mode() && in.mode() > 07777) {
    return absl::InvalidArgumentError(fmt::format(
        "mode {:o} has bits above 07777 (permissions and setuid/setgid/sticky only)", in.mode()));
  }
  // Times that read as mtime keep their value when mtime changes.
  attrs->set_atime_ns(AtimeOf(*attrs));
  attrs->set_ctime_ns(CtimeOf(*attrs));
  if (req.set_mode()) attrs->set_mode(in.mode());
  if (req.set_uid()) attrs->set_uid(in.uid());
  if (req.set_gid()) attrs->set_gid(in.gid());
  if (req.set_mtime()) attrs->set_mtime_ns(in.mtime_ns());
  if (req.set_atime()) attrs->set_atime_ns(in.atime_ns());
  if (req.set_ctime()) {
    attrs->set_ctime_ns(in.ctime_ns());
  } else if (req.set_mode() || req.set_uid() || req.set_gid() || req.set_mtime() ||
             req.set_xattrs_size() > 0 || req.remove_xattrs_size() > 0) {
    attrs->set_ctime_ns(now_ns);
  }
  return absl::OkStatus();
}

void TouchDirectoryTimes(int64_t now_ns, v1::Attributes* attrs) {
  attrs->set_atime_ns(AtimeOf(*attrs));
  attrs->set_mtime_ns(now_ns);
  attrs->set_ctime_ns(now_ns);
}

}  // namespace chainfs
