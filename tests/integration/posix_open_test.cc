// Issue 15, groups 1, 4, 6 and 7 on a real mount, compared with a local ext4 directory
// (tests/fixtures/posix_compare.h): other users and noallow_other, trees deeper than
// PATH_MAX, files unlinked or renamed over while open (tempfile.TemporaryFile too), and the
// errno of size, name and type mismatches.
#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>

#include "tests/fixtures/posix_suite.h"

namespace chainfs::testing {
namespace {

class PosixOpen : public PosixSuite<PosixOpen> {};

// "content=..." of what `fd` holds at `offset` (up to 64 bytes), or the errno.
std::string PreadLine(int fd, off_t offset) {
  std::string out(64, '\0');
  ssize_t n = ::pread(fd, out.data(), out.size(), offset);
  return n < 0 ? "pread -> " + ErrnoName(errno) : "content=" + out.substr(0, n);
}

// "nlink=N size=S" of an open descriptor, or the errno.
std::string FstatLine(int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return "fstat -> " + ErrnoName(errno);
  return fmt::format("fstat nlink={} size={}", st.st_nlink, st.st_size);
}

void CreateWith(Transcript& t, const std::string& name, const std::string& text) {
  int fd = static_cast<int>(
      t.Call("create " + name, ::open(t.Path(name).c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644)));
  if (fd < 0) return;
  t.Call("write", ::write(fd, text.data(), text.size()));
  t.Call("close", ::close(fd));
}

// The sorted names in directory `fd` (without . and ..), as one line.
std::string ListLine(int fd) {
  int dup = ::dup(fd);
  DIR* dir = ::fdopendir(dup);
  if (dir == nullptr) return "fdopendir -> " + ErrnoName(errno);
  std::vector<std::string> names;
  while (dirent* e = ::readdir(dir)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n.size() > 20 ? n.substr(0, 20) + "..." : n);
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  std::string line = "list:";
  for (const std::string& n : names) line += " " + n;
  return line;
}

TEST_F(PosixOpen, UnlinkWhileOpen_ReadWriteAndFstatWorkUntilTheLastClose) {
  EXPECT_SAME_AS_LOCAL(Run([](Transcript& t) {
    // Being written (staged on the mount).
    int fd = static_cast<int>(
        t.Call("open new O_CREAT|O_RDWR", ::open(t.Path("new").c_str(), O_CREAT | O_RDWR, 0600)));
    t.Call("write", ::write(fd, "hello world", 11));
    t.Call("unlink new", ::unlink(t.Path("new").c_str()));
    t.Line(PreadLine(fd, 0));
    t.Call("pwrite", ::pwrite(fd, "W", 1, 6));
    t.Line(PreadLine(fd, 0));
    t.Line(FstatLine(fd));
    t.Call("ftruncate 5", ::ftruncate(fd, 5));
    t.Line(FstatLine(fd));
    t.Call("close", ::close(fd));
    t.Line(StatSummary(t.Path("new")));
    // Stored, then open for reading only (read from the FileStores on the mount).
    CreateWith(t, "stored", "stored content");
    int reader = static_cast<int>(
        t.Call("open stored O_RDONLY", ::open(t.Path("stored").c_str(), O_RDONLY)));
    int second = static_cast<int>(
        t.Call("open stored O_RDONLY", ::open(t.Path("stored").c_str(), O_RDONLY)));
    t.Call("unlink stored", ::unlink(t.Path("stored").c_str()));
    t.Line(StatSummary(t.Path("stored")));
    t.Line(PreadLine(reader, 7));
    t.Line(FstatLine(reader));
    t.Call("close", ::close(reader));
    t.Line(PreadLine(second, 0));
    t.Call("close", ::close(second));
    int dir = ::open(t.root().c_str(), O_RDONLY | O_DIRECTORY);
    t.Line(ListLine(dir));  // nothing left behind
    ::close(dir);
  }));
}

TEST_F(PosixOpen, RenameOverAnOpenFile_OldContentThroughTheDescriptor_NewUnderTheName) {
  EXPECT_SAME_AS_LOCAL(Run([](Transcript& t) {
    CreateWith(t, "target", "old content");
    CreateWith(t, "source", "new content");
    int reader = static_cast<int>(
        t.Call("open target O_RDONLY", ::open(t.Path("target").c_str(), O_RDONLY)));
    int writer =
        static_cast<int>(t.Call("open source O_RDWR", ::open(t.Path("source").c_str(), O_RDWR)));
    t.Call("rename source target", ::rename(t.Path("source").c_str(), t.Path("target").c_str()));
    t.Line(PreadLine(reader, 0));
    t.Line(FstatLine(reader));
    t.Call("close", ::close(reader));
    t.Line(PreadLine(writer, 0));  // the renamed file, still open
    t.Call("close", ::close(writer));
    int fd = ::open(t.Path("target").c_str(), O_RDONLY);
    t.Line(PreadLine(fd, 0));
    ::close(fd);
    t.Line(StatSummary(t.Path("source")));
    int dir = ::open(t.root().c_str(), O_RDONLY | O_DIRECTORY);
    t.Line(ListLine(dir));
    ::close(dir);
  }));
}

TEST_F(PosixOpen, PythonTemporaryFile_RoundTrips) {
  const std::string dir = cluster().mount_dir() + "/" + TestName();
  ASSERT_EQ(::mkdir(dir.c_str(), 0777), 0);
  std::string out;
  int code = ShellAs(Root(),
                     "cd " + dir +
                         " && TMPDIR=. /usr/bin/python3 -c 'import tempfile\n"
                         "f = tempfile.TemporaryFile()\n"
                         "f.write(b\"x\" * 300000)\n"
                         "f.seek(0)\n"
                         "assert f.read() == b\"x\" * 300000\n"
                         "f.seek(10); f.write(b\"y\"); f.flush(); f.seek(10)\n"
                         "assert f.read(1) == b\"y\"\n"
                         "f.close()\n"
                         "print(\"ok\")' && ls -A",
                     &out);
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(out, "ok\n");
}

TEST_F(PosixOpen, TreeDeeperThanPathMax_WorksThroughOpenatAndFchdir) {
  EXPECT_SAME_AS_LOCAL(Run([](Transcript& t) {
    int top = ::open(t.root().c_str(), O_RDONLY | O_DIRECTORY);
    int fd = ::dup(top);
    size_t depth = 0;
    size_t bytes = 0;
    bool ok = true;
    while (bytes < 4200 && ok) {  // a relative path from the root longer than PATH_MAX
      std::string name = std::string(200, 'a' + depth % 26);
      ok = ::mkdirat(fd, name.c_str(), 0755) == 0;
      int next = ::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY);
      ::close(fd);
      fd = next;
      ok = ok && fd >= 0;
      bytes += name.size() + 1;
      ++depth;
    }
    t.Line(fmt::format("built {} levels: {}", depth, ok ? "ok" : ErrnoName(errno)));
    t.Call("fchdir bottom", ::fchdir(fd));
    int file =
        static_cast<int>(t.Call("open bottom/f", ::open("f", O_CREAT | O_EXCL | O_RDWR, 0644)));
    t.Call("write", ::write(file, "deep", 4));
    t.Call("close", ::close(file));
    file = static_cast<int>(t.Call("open bottom/f", ::openat(fd, "f", O_RDONLY)));
    t.Line(PreadLine(file, 0));
    t.Call("close", ::close(file));
    t.Line(ListLine(fd));
    t.Call("chdir /", ::chdir("/"));
    ::close(fd);
    t.Call("rename top", ::renameat(top, std::string(200, 'a').c_str(), top, "moved"));
    std::string out;
    t.Line(fmt::format("rm -rf moved: {}",
                       ShellAs(Root(), "rm -rf " + t.Path("moved") + " && echo removed", &out)));
    t.Line(out);
    t.Line(ListLine(top));
    ::close(top);
  }));
}

TEST_F(PosixOpen, ErrnoOfNameTypeAndSizeMismatches) {
  EXPECT_SAME_AS_LOCAL(Run([](Transcript& t) {
    auto p = [&t](const char* name) { return t.Path(name); };
    t.Call("mkdir d", ::mkdir(p("d").c_str(), 0755));
    t.Call("mkdir d", ::mkdir(p("d").c_str(), 0755));  // EEXIST
    CreateWith(t, "f", "data");
    CreateWith(t, "d/child", "x");
    t.Call("open f O_CREAT|O_EXCL", ::open(p("f").c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644));
    t.Call("open d O_CREAT|O_EXCL", ::open(p("d").c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644));
    t.Call("open d O_CREAT", ::open(p("d").c_str(), O_CREAT | O_RDONLY, 0644));
    t.Call("open d O_WRONLY", ::open(p("d").c_str(), O_WRONLY));
    t.Call("open d O_RDWR|O_TRUNC", ::open(p("d").c_str(), O_RDWR | O_TRUNC));
    t.Call("open f O_DIRECTORY", ::open(p("f").c_str(), O_RDONLY | O_DIRECTORY));
    t.Call("open f/", ::open(p("f/").c_str(), O_RDONLY));
    t.Call("open f/ O_CREAT", ::open(p("f/").c_str(), O_CREAT | O_WRONLY, 0644));
    t.Call("stat f/x", ::open(p("f/x").c_str(), O_RDONLY));
    t.Call("mkdir f/x", ::mkdir(p("f/x").c_str(), 0755));
    t.Call("open missing/x O_CREAT", ::open(p("missing/x").c_str(), O_CREAT | O_WRONLY, 0644));
    t.Call("symlink l -> f", ::symlink("f", p("l").c_str()));
    t.Call("open l O_NOFOLLOW", ::open(p("l").c_str(), O_RDONLY | O_NOFOLLOW));
    t.Call("symlink loop1 -> loop2", ::symlink("loop2", p("loop1").c_str()));
    t.Call("symlink loop2 -> loop1", ::symlink("loop1", p("loop2").c_str()));
    t.Call("open loop1", ::open(p("loop1").c_str(), O_RDONLY));
    t.Call("symlink over f", ::symlink("x", p("f").c_str()));
    t.Call("symlink target 4096", ::symlink(std::string(4096, 't').c_str(), p("long").c_str()));
    t.Call("rmdir d", ::rmdir(p("d").c_str()));  // ENOTEMPTY
    t.Call("rmdir f", ::rmdir(p("f").c_str()));
    t.Call("unlink d", ::unlink(p("d").c_str()));
    t.Call("rename d d/sub", ::rename(p("d").c_str(), p("d/sub").c_str()));
    t.Call("rename d f", ::rename(p("d").c_str(), p("f").c_str()));
    t.Call("mkdir e", ::mkdir(p("e").c_str(), 0755));
    t.Call("rename f e", ::rename(p("f").c_str(), p("e").c_str()));
    t.Call("rename e d", ::rename(p("e").c_str(), p("d").c_str()));  // ENOTEMPTY
    t.Call("rename f /proc", ::rename(p("f").c_str(), "/proc/chainfs-exdev"));
    const std::string long_name(256, 'n');
    t.Call("mkdir 256 bytes", ::mkdir(p(long_name.c_str()).c_str(), 0755));
    t.Call("open 256 bytes", ::open(p(long_name.c_str()).c_str(), O_CREAT | O_WRONLY, 0644));
    t.Call("mkdir 255 bytes", ::mkdir(p(long_name.substr(1).c_str()).c_str(), 0755));
    t.Call("truncate f 2^62", ::truncate(p("f").c_str(), off_t{1} << 62));
    t.Call("truncate f -1", ::truncate(p("f").c_str(), -1));
    t.Call("truncate d 0", ::truncate(p("d").c_str(), 0));
    int fd = static_cast<int>(t.Call("open f O_RDWR", ::open(p("f").c_str(), O_RDWR)));
    t.Call("ftruncate 2^62", ::ftruncate(fd, off_t{1} << 62));
    t.Call("pwrite at 2^62", ::pwrite(fd, "x", 1, off_t{1} << 62));
    t.Call("close", ::close(fd));
    t.Line(StatSummary(p("f")));
    RunAs(Alice(), t, [&p](Transcript& t) {
      t.Call("open f O_WRONLY", ::open(p("f").c_str(), O_WRONLY));
      t.Call("truncate f 0", ::truncate(p("f").c_str(), 0));
      t.Call("chmod f 0666", ::chmod(p("f").c_str(), 0666));
      t.Call("chown f alice", ::chown(p("f").c_str(), Alice().uid, Alice().gid));
      t.Call("unlink d/child", ::unlink(p("d/child").c_str()));
      t.Call("mkdir d/a", ::mkdir(p("d/a").c_str(), 0755));
      t.Call("rename f d/f", ::rename(p("f").c_str(), p("d/f").c_str()));
    });
  }));
}

TEST_F(PosixOpen, OtherUsersByGroupBits_SetgidDirectories_AndSetuidCleared) {
  EXPECT_SAME_AS_LOCAL(Run([](Transcript& t) {
    t.Call("mkdir team", ::mkdir(t.Path("team").c_str(), 0777));
    t.Call("chown team :3000", ::chown(t.Path("team").c_str(), 0, 3000));
    t.Call("chmod team 02775", ::chmod(t.Path("team").c_str(), 02775));
    RunAs(Alice(), t, [](Transcript& t) {
      CreateWith(t, "team/plan", "alice");
      t.Call("chmod team/plan 0664", ::chmod(t.Path("team/plan").c_str(), 0664));
      t.Call("mkdir team/sub", ::mkdir(t.Path("team/sub").c_str(), 0755));
      t.Line(StatSummary(t.Path("team/plan")));
      t.Line(StatSummary(t.Path("team/sub")));
      CreateWith(t, "tool", "#!");
      t.Call("chmod tool 06755", ::chmod(t.Path("tool").c_str(), 06755));
      t.Call("chgrp tool 3000", ::chown(t.Path("tool").c_str(), -1, 3000));
      t.Line(StatSummary(t.Path("tool")));
    });
    RunAs(Bob(), t, [](Transcript& t) {
      int fd = static_cast<int>(
          t.Call("open team/plan O_WRONLY", ::open(t.Path("team/plan").c_str(), O_WRONLY)));
      if (fd >= 0) {
        t.Call("write", ::write(fd, "bob", 3));
        t.Call("close", ::close(fd));
      }
      CreateWith(t, "team/bob", "b");
      t.Line(StatSummary(t.Path("team/bob")));
    });
    RunAs(Carol(), t, [](Transcript& t) {
      t.Call("open team/plan O_WRONLY", ::open(t.Path("team/plan").c_str(), O_WRONLY));
      t.Call("create team/carol", ::open(t.Path("team/carol").c_str(), O_CREAT | O_WRONLY, 0644));
      t.Call("chmod team/plan 0666", ::chmod(t.Path("team/plan").c_str(), 0666));
    });
    t.Call("chown tool bob", ::chown(t.Path("tool").c_str(), Bob().uid, -1));
    t.Line(StatSummary(t.Path("tool")));
  }));
}

TEST_F(PosixOpen, NoAllowOther_KeepsOtherUsersOut_AsTheRootMountLetsThemIn) {
  const std::string shared = cluster().mount_dir() + "/" + TestName();
  ASSERT_EQ(::mkdir(shared.c_str(), 0755), 0);
  std::string out;
  EXPECT_EQ(ShellAs(Alice(), "ls -d " + shared, &out), 0) << out;
  auto closed = cluster().AddMount({"-o", "noallow_other"});
  ASSERT_TRUE(closed.ok()) << closed.status();
  EXPECT_EQ(ShellAs(Root(), "ls -d " + *closed + "/" + TestName(), &out), 0) << out;
  EXPECT_NE(ShellAs(Alice(), "ls -d " + *closed + "/" + TestName(), &out), 0) << out;
  cluster().Unmount(*closed);
}

}  // namespace
}  // namespace chainfs::testing
