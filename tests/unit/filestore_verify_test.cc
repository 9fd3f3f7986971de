// The FileStore's Verify call (fsck) over a real ObjectStore in a temporary directory: intact
// copies pass; a flipped byte, a removed data or meta file, or a copy that is not held are
// answered as such and handed on as bad replicas (dropped); a newer version is not.
#include <fcntl.h>

#include "servers/filestore/verify.h"
#include "tests/unit/filestore_object_store_fixture.h"

namespace chainfs::filestore {
namespace {

class VerifyTest : public ObjectStoreTest {
 protected:
  // Verifies name@version; the bad replicas handed on are collected in bad_.
  v1::VerifyResult VerifyOne(const std::string& name, int64_t version) {
    v1::VerifyRequest req;
    v1::NameVersion* f = req.add_files();
    f->set_name(name);
    f->set_version(version);
    v1::VerifyReply reply;
    absl::Status st = VerifyObjects(store_.get(), req, &reply, BadFn());
    EXPECT_TRUE(st.ok()) << st;
    return reply.results_size() == 1 ? reply.results(0) : v1::VerifyResult();
  }
  BadReplicaFn BadFn() {
    return [this](const std::string& name, int64_t version, const absl::Status&) {
      store_->DropCorrupt(name, version);
      bad_.push_back(fmt::format("{}@{}", name, version));
    };
  }

  std::vector<std::string> bad_;
};

const std::string kBig(200000, 'b');

TEST_F(VerifyTest, IntactCopies_PresentAndChecksumOk_NothingReported) {
  ASSERT_TRUE(Put("/big", 3, kBig).ok());
  ASSERT_TRUE(Put("/small", 4, "tiny").ok());
  for (auto [name, version] : {std::pair{"/big", 3}, {"/small", 4}}) {
    v1::VerifyResult r = VerifyOne(name, version);
    EXPECT_TRUE(r.present() && r.checksum_ok()) << name << ": " << r.problem();
    EXPECT_EQ(r.held_version(), version);
  }
  EXPECT_TRUE(bad_.empty());
}

TEST_F(VerifyTest, FlippedByte_CorruptDroppedAndReported) {
  ASSERT_TRUE(Put("/big", 3, kBig).ok());
  std::string path = store_->ObjectPath("/big", 3, /*meta=*/false);
  int fd = ::open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, "X", 1, 70000), 1);
  ::close(fd);
  v1::VerifyResult r = VerifyOne("/big", 3);
  EXPECT_TRUE(r.present());
  EXPECT_FALSE(r.checksum_ok());
  EXPECT_NE(r.problem().find("checksum"), std::string::npos) << r.problem();
  EXPECT_EQ(bad_, std::vector<std::string>{"/big@3"});
  EXPECT_FALSE(store_->Lookup("/big").has_value());
}

TEST_F(VerifyTest, DataFileRemoved_CorruptDroppedAndReported) {
  ASSERT_TRUE(Put("/big", 3, kBig).ok());
  ASSERT_TRUE(fs::remove(store_->ObjectPath("/big", 3, /*meta=*/false)));
  v1::VerifyResult r = VerifyOne("/big", 3);
  EXPECT_TRUE(r.present());
  EXPECT_FALSE(r.checksum_ok());
  EXPECT_EQ(bad_, std::vector<std::string>{"/big@3"});
  EXPECT_FALSE(store_->Lookup("/big").has_value());
}

TEST_F(VerifyTest, MetaFileOfSmallFileRemoved_CorruptDroppedAndReported) {
  ASSERT_TRUE(Put("/small", 4, "tiny").ok());
  ASSERT_TRUE(fs::remove(store_->ObjectPath("/small", 4, /*meta=*/true)));
  v1::VerifyResult r = VerifyOne("/small", 4);
  EXPECT_FALSE(r.checksum_ok());
  EXPECT_NE(r.problem().find("meta"), std::string::npos) << r.problem();
  EXPECT_EQ(bad_, std::vector<std::string>{"/small@4"});
}

TEST_F(VerifyTest, NotHeldOrOlder_MissingAndReported) {
  ASSERT_TRUE(Put("/old", 2, "old").ok());
  v1::VerifyResult none = VerifyOne("/never", 5);
  EXPECT_FALSE(none.present());
  EXPECT_EQ(none.held_version(), 0);
  v1::VerifyResult older = VerifyOne("/old", 5);
  EXPECT_FALSE(older.present());
  EXPECT_EQ(older.held_version(), 2);
  EXPECT_EQ(bad_, (std::vector<std::string>{"/never@5", "/old@5"}));
  // The older copy is not the one asked about: kept.
  EXPECT_TRUE(store_->Lookup("/old").has_value());
}

TEST_F(VerifyTest, NewerVersionHeld_AnsweredNotReported) {
  ASSERT_TRUE(Put("/f", 9, "newer").ok());
  v1::VerifyResult r = VerifyOne("/f", 5);
  EXPECT_FALSE(r.present());
  EXPECT_EQ(r.held_version(), 9);
  EXPECT_TRUE(bad_.empty());
}

TEST_F(VerifyTest, BadNameVersionOrTooManyNames_InvalidArgument) {
  v1::VerifyReply reply;
  v1::VerifyRequest bad_name;
  bad_name.add_files()->set_name("relative/name");
  bad_name.mutable_files(0)->set_version(1);
  EXPECT_TRUE(absl::IsInvalidArgument(VerifyObjects(store_.get(), bad_name, &reply, BadFn())));
  v1::VerifyRequest bad_version;
  bad_version.add_files()->set_name("/f");
  EXPECT_TRUE(absl::IsInvalidArgument(VerifyObjects(store_.get(), bad_version, &reply, BadFn())));
  v1::VerifyRequest too_many;
  for (int i = 0; i <= kMaxVerifyFiles; ++i) {
    v1::NameVersion* f = too_many.add_files();
    f->set_name(fmt::format("/f{}", i));
    f->set_version(1);
  }
  EXPECT_TRUE(absl::IsInvalidArgument(VerifyObjects(store_.get(), too_many, &reply, BadFn())));
  EXPECT_TRUE(bad_.empty());
}

}  // namespace
}  // namespace chainfs::filestore
