#include <gtest/gtest.h>

#include <cerrno>

#include "fuse/errors.h"

namespace chainfs::mount {
namespace {

TEST(ErrnoFromStatus, Ok_IsZero) { EXPECT_EQ(ErrnoFromStatus(absl::OkStatus()), 0); }

TEST(ErrnoFromStatus, StatusCodes_MapToTheContractsErrnos) {
  EXPECT_EQ(ErrnoFromStatus(absl::NotFoundError("x")), ENOENT);
  EXPECT_EQ(ErrnoFromStatus(absl::AlreadyExistsError("x")), EEXIST);
  EXPECT_EQ(ErrnoFromStatus(absl::ResourceExhaustedError("disk full")), ENOSPC);
  EXPECT_EQ(ErrnoFromStatus(absl::InvalidArgumentError("bad")), EINVAL);
  EXPECT_EQ(ErrnoFromStatus(absl::UnimplementedError("no")), ENOTSUP);
  EXPECT_EQ(ErrnoFromStatus(absl::UnavailableError("not leader")), EIO);
  EXPECT_EQ(ErrnoFromStatus(absl::DeadlineExceededError("slow")), EIO);
  EXPECT_EQ(ErrnoFromStatus(absl::DataLossError("corrupt")), EIO);
  EXPECT_EQ(ErrnoFromStatus(absl::InternalError("?")), EIO);
}

TEST(ErrnoFromStatus, PreconditionMessages_SayWhichErrno) {
  EXPECT_EQ(ErrnoFromStatus(absl::FailedPreconditionError("directory not empty")), ENOTEMPTY);
  EXPECT_EQ(ErrnoFromStatus(absl::FailedPreconditionError("/a is not a directory")), ENOTDIR);
  EXPECT_EQ(ErrnoFromStatus(absl::FailedPreconditionError("/a is a directory")), EISDIR);
  EXPECT_EQ(ErrnoFromStatus(absl::FailedPreconditionError("version too old: 3")), EIO);
}

TEST(ErrnoFromStatus, DaemonNameLimits_AreNameTooLong) {
  EXPECT_EQ(ErrnoFromStatus(absl::InvalidArgumentError("name component is 256 bytes, the limit "
                                                       "is 255")),
            ENAMETOOLONG);
}

TEST(ErrnoError, CarriesItsErrnoThrough) {
  for (int err : {ENAMETOOLONG, ENOTEMPTY, EPERM, EISDIR, ENOTDIR, EBADF, ENOSPC, ENOENT}) {
    absl::Status st = ErrnoError(err, "x");
    EXPECT_FALSE(st.ok());
    EXPECT_EQ(ErrnoFromStatus(st), err);
  }
  EXPECT_EQ(ErrnoError(ENOENT, "x").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrnoError(ENOSPC, "x").code(), absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace chainfs::mount
