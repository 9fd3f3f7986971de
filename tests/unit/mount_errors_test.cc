#include <gtest/gtest.h>

#include <cerrno>

#include "common/status.h"
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

TEST(ErrnoFromStatus, ChainfsCodes_SayWhichErrno) {
  EXPECT_EQ(ErrnoFromStatus(Error(v1::ERROR_NOT_EMPTY, "x")), ENOTEMPTY);
  EXPECT_EQ(ErrnoFromStatus(Error(v1::ERROR_NOT_A_DIRECTORY, "x")), ENOTDIR);
  EXPECT_EQ(ErrnoFromStatus(Error(v1::ERROR_IS_A_DIRECTORY, "x")), EISDIR);
  EXPECT_EQ(ErrnoFromStatus(Error(v1::ERROR_NAME_TOO_LONG, "x")), ENAMETOOLONG);
  EXPECT_EQ(ErrnoFromStatus(Error(v1::ERROR_NO_SPACE, "x")), ENOSPC);
  EXPECT_EQ(ErrnoFromStatus(VersionTooOld("3")), EIO);
}

TEST(ErrnoFromStatus, MessageText_IsNeverLookedAt) {
  // A FileStore's chunk-size refusal mentions a limit; it is a bad argument, not a long name.
  EXPECT_EQ(ErrnoFromStatus(absl::InvalidArgumentError("chunk of 9 bytes, the limit is 8")),
            EINVAL);
  EXPECT_EQ(ErrnoFromStatus(absl::FailedPreconditionError("directory not empty")), EIO);
  EXPECT_EQ(ErrnoFromStatus(absl::FailedPreconditionError("/a is a directory")), EIO);
}

TEST(ErrnoFromStatus, CodesSurviveTheTripThroughGrpc) {
  for (v1::ErrorCode code : {v1::ERROR_NOT_EMPTY, v1::ERROR_NOT_A_DIRECTORY,
                             v1::ERROR_IS_A_DIRECTORY, v1::ERROR_NAME_TOO_LONG}) {
    absl::Status sent = Error(code, "x");
    EXPECT_EQ(ErrnoFromStatus(FromGrpc(ToGrpc(sent))), ErrnoFromStatus(sent));
  }
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
