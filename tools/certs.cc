#include "tools/certs.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <chrono>

#include "common/tls/ca.h"
#include "common/tls/roles.h"

namespace chainfs::cli {
namespace {

constexpr int kMaxDays = 100 * 365;
constexpr int kCaDays = 10 * 365;

int Done(const absl::Status& st, const std::string& what) {
  if (st.ok()) {
    fmt::print("{}\n", what);
    return 0;
  }
  fmt::print(stderr, "chainfs certs: {}\n", std::string(st.message()));
  return st.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
}

}  // namespace

CertsCommand::CertsCommand(CLI::App& app) {
  certs_ = app.add_subcommand("certs", "the cluster's CA and certificates (mutual TLS)");
  certs_->require_subcommand(1);
  init_ =
      certs_->add_subcommand("init", "create a CA (ca.key, ca.crt), zk-auth and token.key in DIR");
  init_->add_option("dir", dir_, "directory (created 0700)")->required();
  issue_ = certs_->add_subcommand("issue", "issue NAME.key and NAME.crt signed by DIR's CA");
  issue_->add_option("--role", roles_, tls::RoleList())->required();
  issue_->add_option("--name", names_, "host name or IP address it serves or dials from (SAN)")
      ->required();
  issue_->add_option("--file", file_, "NAME of the files (default: the role)");
  issue_->add_option("--days", days_, "validity")
      ->capture_default_str()
      ->check(CLI::Range(1, kMaxDays));
  issue_->add_option("dir", dir_, "the CA's directory")->required();
}

bool CertsCommand::chosen() const { return certs_->parsed(); }

int CertsCommand::Run() const {
  using std::chrono::hours;
  if (init_->parsed()) {
    const auto valid_for = std::chrono::duration_cast<std::chrono::seconds>(hours(24) * kCaDays);
    return Done(tls::InitDirectory(dir_, valid_for),
                fmt::format("CA created in {} ({}, {}, {})", dir_, tls::CaCertPath(dir_),
                            tls::CaKeyPath(dir_), tls::ZkAuthPath(dir_)));
  }
  tls::CertificateRequest request{.roles = roles_, .names = names_};
  request.valid_for = std::chrono::duration_cast<std::chrono::seconds>(hours(24) * days_);
  const std::string file = file_.empty() ? roles_.front() : file_;
  return Done(tls::IssueToDirectory(dir_, file, request),
              fmt::format("issued {} ({} for {})", tls::CertPath(dir_, file), tls::Describe(roles_),
                          fmt::join(names_, ", ")));
}

}  // namespace chainfs::cli
