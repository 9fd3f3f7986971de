// The NameServer's soft state of special files and extended attributes: a version's rdev and
// xattrs come back from Stat, a stale copy that becomes the latest again brings its own, and
// the shared rules (common/client/xattr_rules.h) refuse what is over the limits.
#include <gtest/gtest.h>

#include <string>

#include "common/client/nameserver_rules.h"
#include "common/client/xattr_rules.h"
#include "servers/nameserver/namespace.h"

namespace chainfs::nameserver {
namespace {

v1::FileInfo Entry(const std::string& name, int64_t version, v1::Kind kind) {
  v1::FileInfo f;
  f.set_name(name);
  f.set_version(version);
  f.set_kind(kind);
  f.mutable_attributes()->set_mode(0640);
  f.mutable_attributes()->set_uid(1000);
  return f;
}

class NamespaceExtrasTest : public ::testing::Test {
 protected:
  FileStoreId Register(const std::string& address) {
    FileStoreId id = ns_.BeginRegistration(address, 0, 1000, TimePoint{});
    ns_.EndRegistration(id);
    return id;
  }
  Namespace ns_;
};

TEST_F(NamespaceExtrasTest, DeviceNode_StatGivesItsKindAndRdev) {
  FileStoreId a = Register("a:1");
  v1::FileInfo dev = Entry("/dev0", 5, v1::KIND_CHAR_DEVICE);
  dev.mutable_attributes()->set_rdev(0x0501);
  ns_.Apply(a, dev);
  auto st = ns_.Stat("/dev0");
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->kind(), v1::KIND_CHAR_DEVICE);
  EXPECT_EQ(st->attributes().rdev(), 0x0501u);
  EXPECT_EQ(st->attributes().mode(), 0640u);
}

TEST_F(NamespaceExtrasTest, Xattrs_ComeBackWithTheVersionAndOnlyWithIt) {
  FileStoreId a = Register("a:1"), b = Register("b:1");
  v1::FileInfo with = Entry("/f", 5, v1::KIND_FILE);
  (*with.mutable_attributes()->mutable_xattrs())["user.color"] = "blue";
  (*with.mutable_attributes()->mutable_xattrs())["trusted.x"] = std::string("\0\1", 2);
  ns_.Apply(a, with);
  ns_.Apply(b, with);
  auto st = ns_.Stat("/f");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->attributes().xattrs().size(), 2u);
  EXPECT_EQ(st->attributes().xattrs().at("user.color"), "blue");
  EXPECT_EQ(st->attributes().xattrs().at("trusted.x"), std::string("\0\1", 2));
  // A newer version without xattrs (removexattr) shows none.
  ns_.Apply(a, Entry("/f", 7, v1::KIND_FILE));
  EXPECT_TRUE(ns_.Stat("/f")->attributes().xattrs().empty());
  // Its only holder goes: the stale copy with the xattrs is the latest again, xattrs and all.
  ns_.DropFileStore(a, TimePoint{});
  EXPECT_EQ(ns_.Stat("/f")->version(), 5);
  EXPECT_EQ(ns_.Stat("/f")->attributes().xattrs().at("user.color"), "blue");
}

TEST(XattrRules, FlagsAndRemovals_RefuseAsSetxattrDoes) {
  v1::Attributes attrs;
  v1::SetAttributesRequest req;
  (*req.mutable_set_xattrs())["user.a"] = "1";
  req.set_xattr_flags(kXattrReplace);
  EXPECT_EQ(ApplyXattrChanges(req, &attrs).code(), absl::StatusCode::kFailedPrecondition);
  req.set_xattr_flags(0);
  ASSERT_TRUE(ApplyXattrChanges(req, &attrs).ok());
  req.set_xattr_flags(kXattrCreate);
  EXPECT_EQ(ApplyXattrChanges(req, &attrs).code(), absl::StatusCode::kAlreadyExists);
  v1::SetAttributesRequest remove;
  remove.add_remove_xattrs("user.b");
  EXPECT_EQ(ApplyXattrChanges(remove, &attrs).code(), absl::StatusCode::kFailedPrecondition);
  remove.set_remove_xattrs(0, "user.a");
  ASSERT_TRUE(ApplyXattrChanges(remove, &attrs).ok());
  EXPECT_TRUE(attrs.xattrs().empty());
}

TEST(XattrRules, NamesAndSizes_OverTheLimitsAreInvalidArgument) {
  auto with = [](const std::string& name, size_t bytes) {
    v1::Attributes attrs;
    (*attrs.mutable_xattrs())[name] = std::string(bytes, 'v');
    return ValidateXattrs(attrs).code();
  };
  EXPECT_EQ(with("user.ok", kMaxXattrValueBytes), absl::StatusCode::kOk);
  EXPECT_EQ(with("user.big", kMaxXattrValueBytes + 1), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(with("user." + std::string(kMaxXattrNameBytes, 'n'), 1),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(with("system.other", 1), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(with("user.", 1), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(with(std::string(kAclDefaultXattr), 4), absl::StatusCode::kOk);
  v1::Attributes many;
  for (int i = 0; i < 3; ++i) {
    (*many.mutable_xattrs())["user." + std::to_string(i)] = std::string(kMaxXattrValueBytes, 'v');
  }
  EXPECT_EQ(ValidateXattrs(many).code(), absl::StatusCode::kInvalidArgument);
}

TEST(XattrRules, SpecialFileWithContent_IsRefusedAsAReport) {
  v1::FileInfo fifo = Entry("/p", 3, v1::KIND_FIFO);
  EXPECT_TRUE(ValidateReported(fifo).ok());
  fifo.set_size(1);
  EXPECT_EQ(ValidateReported(fifo).code(), absl::StatusCode::kInvalidArgument);
  v1::FileInfo file = Entry("/f", 3, v1::KIND_FILE);
  file.set_size(1);
  EXPECT_TRUE(ValidateReported(file).ok());
}

}  // namespace
}  // namespace chainfs::nameserver
