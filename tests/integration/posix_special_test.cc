// Special files on the mount give what they give on a local ext4 directory (issue 15, group
// 2): mknod of fifos, devices and sockets, mkfifo and bind of a Unix socket, then stat, rename,
// chmod, chown and unlink of them by several users; a fifo passing bytes between two local
// processes (threads here); a device node opened as its mode allows. The mount is made with
// `-o dev` (libfuse mounts nodev otherwise, and every device open would be EACCES).
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <thread>

#include "tests/fixtures/posix_suite.h"

namespace chainfs::testing {
namespace {

class PosixSpecial : public PosixSuite<PosixSpecial> {
 public:
  static MountedClusterOptions ClusterOptions() {
    MountedClusterOptions options;
    options.mount_args = {"-o", "dev"};
    return options;
  }
};

// open(2), recorded without the descriptor's number (which depends on what else is open).
int Open(Transcript& t, const std::string& name, int flags) {
  int fd = ::open(t.Path(name).c_str(), flags);
  t.Call(fmt::format("open {} {}", name, flags), fd < 0 ? -1 : 0);
  return fd;
}

void MakeNode(Transcript& t, const std::string& name, mode_t mode, dev_t dev = 0) {
  t.Call(fmt::format("mknod {} {:o} {}:{}", name, mode, major(dev), minor(dev)),
         ::mknod(t.Path(name).c_str(), mode, dev));
  t.Line(name + ": " + StatSummary(t.Path(name)));
}

TEST_F(PosixSpecial, MknodOfEachKind_StatsWithTypeModeOwnerAndRdev) {
  EXPECT_SAME_AS_LOCAL(Run([](Transcript& t) {
    MakeNode(t, "fifo", S_IFIFO | 0666);
    MakeNode(t, "chr", S_IFCHR | 0620, makedev(1, 3));
    MakeNode(t, "blk", S_IFBLK | 0600, makedev(7, 200));
    MakeNode(t, "sock", S_IFSOCK | 0755);
    MakeNode(t, "reg", S_IFREG | 0640);
    MakeNode(t, "fifo", S_IFIFO | 0600);  // EEXIST
    RunAs(Alice(), t, [](Transcript& t) {
      t.Call("mkfifo alice-fifo 0640", ::mkfifo(t.Path("alice-fifo").c_str(), 0640));
      t.Line(StatSummary(t.Path("alice-fifo")));
      MakeNode(t, "alice-chr", S_IFCHR | 0600, makedev(1, 3));  // EPERM: CAP_MKNOD
    });
  }));
}

TEST_F(PosixSpecial, BindingAUnixSocket_MakesASocketEntry) {
  EXPECT_SAME_AS_LOCAL(Run([](Transcript& t) {
    RunAs(Bob(), t, [](Transcript& t) {
      int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
      sockaddr_un addr = {};
      addr.sun_family = AF_UNIX;
      const std::string path = t.Path("s");
      ASSERT_LT(path.size(), sizeof(addr.sun_path)) << path;
      std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
      t.Call("bind s", ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)));
      int again = ::socket(AF_UNIX, SOCK_STREAM, 0);
      t.Call("bind s again", ::bind(again, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)));
      ::close(again);
      ::close(fd);
      t.Line(StatSummary(t.Path("s")));
      t.Call("unlink s", ::unlink(t.Path("s").c_str()));
      t.Line(StatSummary(t.Path("s")));
    });
  }));
}

TEST_F(PosixSpecial, SpecialFiles_RenameChmodChownUnlinkByOwnerAndOthers) {
  EXPECT_SAME_AS_LOCAL(Run([](Transcript& t) {
    MakeNode(t, "dev", S_IFCHR | 0644, makedev(1, 5));
    RunAs(Alice(), t, [](Transcript& t) {
      t.Call("mkfifo p 0644", ::mkfifo(t.Path("p").c_str(), 0644));
      t.Call("rename p q", ::rename(t.Path("p").c_str(), t.Path("q").c_str()));
      t.Call("chmod q 0600", ::chmod(t.Path("q").c_str(), 0600));
      t.Call("chmod dev 0666", ::chmod(t.Path("dev").c_str(), 0666));  // EPERM: root's
      t.Call("chgrp q 3000", ::chown(t.Path("q").c_str(), -1, 3000));
      t.Line(StatSummary(t.Path("q")));
    });
    RunAs(Bob(), t, [](Transcript& t) {
      t.Call("chmod q 0666", ::chmod(t.Path("q").c_str(), 0666));  // EPERM
      t.Call("rename dev dev2", ::rename(t.Path("dev").c_str(), t.Path("dev2").c_str()));
    });
    t.Call("chown q bob", ::chown(t.Path("q").c_str(), Bob().uid, Bob().gid));
    t.Line(StatSummary(t.Path("q")));
    t.Call("rename dev dev2", ::rename(t.Path("dev").c_str(), t.Path("dev2").c_str()));
    t.Line(StatSummary(t.Path("dev2")));
    t.Call("unlink dev2", ::unlink(t.Path("dev2").c_str()));
    t.Call("unlink q", ::unlink(t.Path("q").c_str()));
    t.Line(StatSummary(t.Path("q")));
  }));
}

TEST_F(PosixSpecial, Fifo_PassesBytesBetweenTwoLocalProcesses) {
  EXPECT_SAME_AS_LOCAL(Run([](Transcript& t) {
    t.Call("mkfifo p", ::mkfifo(t.Path("p").c_str(), 0666));
    const std::string path = t.Path("p");
    std::thread writer([path] {
      int fd = ::open(path.c_str(), O_WRONLY);
      if (fd < 0) return;
      (void)!::write(fd, "through the fifo\n", 17);
      ::close(fd);
    });
    int fd = ::open(path.c_str(), O_RDONLY);
    t.Call("open p O_RDONLY", fd < 0 ? -1 : 0);
    std::string got;
    char buf[64];
    for (ssize_t n; fd >= 0 && (n = ::read(fd, buf, sizeof buf)) > 0;) got.append(buf, n);
    writer.join();
    if (fd >= 0) ::close(fd);
    t.Line("read: " + got);
    t.Line(StatSummary(path));  // still empty: the bytes never went to the filesystem
  }));
}

TEST_F(PosixSpecial, DeviceNode_OpensAsItsModeAllows) {
  EXPECT_SAME_AS_LOCAL(Run([](Transcript& t) {
    MakeNode(t, "null", S_IFCHR | 0600, makedev(1, 3));  // /dev/null's numbers
    MakeNode(t, "zero", S_IFCHR | 0644, makedev(1, 5));  // /dev/zero's
    int fd = Open(t, "null", O_WRONLY);
    if (fd >= 0) {
      t.Call("write null", ::write(fd, "gone", 4));
      ::close(fd);
    }
    RunAs(Alice(), t, [](Transcript& t) {
      Open(t, "null", O_WRONLY);  // EACCES
      int fd = Open(t, "zero", O_RDONLY);
      char buf[4] = {1, 1, 1, 1};
      if (fd >= 0) {
        t.Call("read zero", ::read(fd, buf, sizeof buf));
        ::close(fd);
      }
      t.Line(fmt::format("zeros: {}", buf[0] == 0 && buf[3] == 0));
    });
  }));
}

}  // namespace
}  // namespace chainfs::testing
