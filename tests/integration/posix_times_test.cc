// atime, mtime and ctime of files and their directories, and directories' link counts, on
// the mount as on a local ext4 directory (both relatime, the mount's default): after each
// step a scenario writes down which times changed ("a", "m", "c", or "-"), or that one equals the
// value just set, never an absolute time. Also utimensat by other users (the kernel's rules
// through default_permissions), and reads on mounts made with -o noatime and -o strictatime,
// whose expected outcome is written here (the local ext4 directory is relatime).
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/fixtures/posix_suite.h"

namespace chainfs::testing {
namespace {

// The mount's default is relatime (fuse/mount.h), as ext4's here.
class PosixTimes : public PosixSuite<PosixTimes> {};

int64_t Nanos(const timespec& t) { return int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec; }

struct Times {
  int64_t a = 0, m = 0, c = 0;
  bool ok = false;
};

Times TimesOf(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return {};
  return {Nanos(st.st_atim), Nanos(st.st_mtim), Nanos(st.st_ctim), true};
}

// ext4 stamps times from the kernel's coarse clock: wait for its next tick, so that a change
// made by the next step shows as one (a few milliseconds at most; nothing is synchronised).
void NextTick() {
  timespec start, now;
  ::clock_gettime(CLOCK_REALTIME_COARSE, &start);
  do {
    ::clock_gettime(CLOCK_REALTIME_COARSE, &now);
  } while (Nanos(now) == Nanos(start));
}

std::string Changed(const Times& before, const Times& after) {
  if (!before.ok || !after.ok) return after.ok ? "new" : "gone";
  std::string out;
  if (before.a != after.a) out += "a";
  if (before.m != after.m) out += "m";
  if (before.c != after.c) out += "c";
  return out.empty() ? "-" : out;
}

// Runs `step` and writes down which times of each of `names` it changed.
void Step(Transcript& t, const std::vector<std::string>& names, const std::function<void()>& step) {
  std::vector<Times> before;
  for (const std::string& n : names) before.push_back(TimesOf(t.Path(n)));
  NextTick();
  step();
  std::string line = "  changed:";
  for (size_t i = 0; i < names.size(); ++i) {
    line += fmt::format(" {}={}", names[i].empty() ? "." : names[i],
                        Changed(before[i], TimesOf(t.Path(names[i]))));
  }
  t.Line(line);
}

// Descriptors are recorded as 0: their numbers are no part of the comparison.
int Open(Transcript& t, const std::string& what, const std::string& name, int flags) {
  int fd = ::open(t.Path(name).c_str(), flags, 0644);
  t.Call(what, fd < 0 ? -1 : 0);
  return fd;
}

// Runs `step`, which moves `from` to `to`, and writes down which of its times the move changed.
void Moved(Transcript& t, const std::string& from, const std::string& to,
           const std::function<void()>& step) {
  const Times before = TimesOf(t.Path(from));
  step();
  t.Line(fmt::format("  moved {}: {}", to, Changed(before, TimesOf(t.Path(to)))));
}

void Read(Transcript& t, const std::string& name) {
  int fd = Open(t, "open " + name, name, O_RDONLY);
  if (fd < 0) return;
  char buf[64];
  t.Call("read", ::read(fd, buf, sizeof(buf)));
  ::close(fd);
}

void Write(Transcript& t, const std::string& name, int flags, const std::string& text) {
  int fd = Open(t, fmt::format("open {} {:#o}", name, flags), name, flags);
  if (fd < 0) return;
  t.Call("write", ::write(fd, text.data(), text.size()));
  t.Call("close", ::close(fd));
}

long Utimens(Transcript& t, const std::string& name, const timespec* times) {
  return ::utimensat(AT_FDCWD, t.Path(name).c_str(), times, AT_SYMLINK_NOFOLLOW);
}

TEST_F(PosixTimes, FileOperations_MoveTheTimesOfTheFileAndItsDirectory) {
  EXPECT_SAME_AS_LOCAL(Run([](Transcript& t) {
    t.Call("mkdir d", ::mkdir(t.Path("d").c_str(), 0755));
    const std::vector<std::string> both = {"d", "d/f"};
    t.Line("create d/f");
    Step(t, both, [&] { Write(t, "d/f", O_CREAT | O_WRONLY | O_EXCL, "hello"); });
    t.Line("write d/f");
    Step(t, both, [&] { Write(t, "d/f", O_WRONLY, "J"); });
    t.Line("read d/f (atime older than mtime)");
    Step(t, both, [&] { Read(t, "d/f"); });
    t.Line("read d/f again (atime newer than mtime and ctime)");
    Step(t, both, [&] { Read(t, "d/f"); });
    t.Line("chmod d/f");
    Step(t, both, [&] { t.Call("chmod 0600", ::chmod(t.Path("d/f").c_str(), 0600)); });
    t.Line("chown d/f");
    Step(t, both, [&] { t.Call("chown 1000", ::chown(t.Path("d/f").c_str(), 1000, -1)); });
    t.Line("truncate d/f");
    Step(t, both, [&] { t.Call("truncate 2", ::truncate(t.Path("d/f").c_str(), 2)); });
    t.Line("open d/f O_TRUNC");
    Step(t, both, [&] { Write(t, "d/f", O_WRONLY | O_TRUNC, ""); });
    t.Line("rename d/f d/g");
    Moved(t, "d/f", "d/g", [&] {
      Step(t, {"d"},
           [&] { t.Call("rename", ::rename(t.Path("d/f").c_str(), t.Path("d/g").c_str())); });
    });
    t.Line("mkdir d/s");
    Step(t, {"d", "d/s"}, [&] { t.Call("mkdir", ::mkdir(t.Path("d/s").c_str(), 0755)); });
    t.Line("rename d/g d/s/g");
    Moved(t, "d/g", "d/s/g", [&] {
      Step(t, {"d", "d/s"},
           [&] { t.Call("rename", ::rename(t.Path("d/g").c_str(), t.Path("d/s/g").c_str())); });
    });
    t.Line("symlink d/l");
    Step(t, {"d"}, [&] { t.Call("symlink", ::symlink("s/g", t.Path("d/l").c_str())); });
    t.Line("unlink d/l and d/s/g");
    Step(t, {"d", "d/s"}, [&] {
      t.Call("unlink l", ::unlink(t.Path("d/l").c_str()));
      t.Call("unlink s/g", ::unlink(t.Path("d/s/g").c_str()));
    });
    t.Line("rmdir d/s");
    Step(t, {".", "d"}, [&] { t.Call("rmdir", ::rmdir(t.Path("d/s").c_str())); });
  }));
}

TEST_F(PosixTimes, Utimensat_AtimeAlone_MtimeAlone_Now_AndOmit) {
  EXPECT_SAME_AS_LOCAL(Run([](Transcript& t) {
    Write(t, "f", O_CREAT | O_WRONLY, "x");
    const std::vector<std::string> f = {".", "f"};
    const timespec atime_only[2] = {{.tv_sec = 1'000'000, .tv_nsec = 123}, {0, UTIME_OMIT}};
    t.Line("atime alone");
    Step(t, f, [&] { t.Call("utimensat", Utimens(t, "f", atime_only)); });
    t.Line(fmt::format("  atime is the value set: {}",
                       TimesOf(t.Path("f")).a == 1'000'000'000'000'123));
    const timespec mtime_only[2] = {{0, UTIME_OMIT}, {.tv_sec = 2'000'000, .tv_nsec = 456}};
    t.Line("mtime alone");
    Step(t, f, [&] { t.Call("utimensat", Utimens(t, "f", mtime_only)); });
    t.Line(fmt::format("  mtime is the value set: {}",
                       TimesOf(t.Path("f")).m == 2'000'000'000'000'456));
    const timespec now_omit[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
    t.Line("atime UTIME_NOW, mtime UTIME_OMIT");
    Step(t, f, [&] { t.Call("utimensat", Utimens(t, "f", now_omit)); });
    t.Line("both UTIME_NOW (NULL)");
    Step(t, f, [&] { t.Call("utimensat", Utimens(t, "f", nullptr)); });
    const timespec omit[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
    t.Line("both UTIME_OMIT");
    Step(t, f, [&] { t.Call("utimensat", Utimens(t, "f", omit)); });
    t.Line("the directory itself");
    Step(t, {"."}, [&] { t.Call("utimensat", Utimens(t, "", mtime_only)); });
  }));
}

TEST_F(PosixTimes, Utimensat_ByOtherUsers_FollowsTheOwnerAndWriteAccessRules) {
  EXPECT_SAME_AS_LOCAL(Run([](Transcript& t) {
    RunAs(Alice(), t, [](Transcript& t) {
      Write(t, "open", O_CREAT | O_WRONLY, "x");
      t.Call("chmod open 0666", ::chmod(t.Path("open").c_str(), 0666));
      Write(t, "closed", O_CREAT | O_WRONLY, "x");
    });
    const timespec set[2] = {{.tv_sec = 5, .tv_nsec = 0}, {.tv_sec = 6, .tv_nsec = 0}};
    RunAs(Bob(), t, [&](Transcript& t) {
      t.Line("bob, not the owner, with write access");
      Step(t, {"open"}, [&] { t.Call("utimensat NULL", Utimens(t, "open", nullptr)); });
      Step(t, {"open"}, [&] { t.Call("utimensat values", Utimens(t, "open", set)); });
      t.Line("bob, not the owner, without write access");
      Step(t, {"closed"}, [&] { t.Call("utimensat NULL", Utimens(t, "closed", nullptr)); });
      Step(t, {"closed"}, [&] { t.Call("utimensat values", Utimens(t, "closed", set)); });
    });
    RunAs(Alice(), t, [&](Transcript& t) {
      t.Line("alice, the owner");
      Step(t, {"closed"}, [&] { t.Call("utimensat values", Utimens(t, "closed", set)); });
      t.Line(fmt::format("  mtime is the value set: {}",
                         TimesOf(t.Path("closed")).m == 6'000'000'000));
    });
    t.Line("root");
    Step(t, {"open"}, [&] { t.Call("utimensat values", Utimens(t, "open", set)); });
  }));
}

TEST_F(PosixTimes, DirectoryLinkCounts_AreTwoPlusSubdirectories) {
  EXPECT_SAME_AS_LOCAL(Run([](Transcript& t) {
    auto links = [&](const std::string& n) { t.Line(n + ": " + StatSummary(t.Path(n))); };
    t.Call("mkdir d", ::mkdir(t.Path("d").c_str(), 0755));
    links("d");
    t.Call("mkdir d/a", ::mkdir(t.Path("d/a").c_str(), 0755));
    t.Call("mkdir d/b", ::mkdir(t.Path("d/b").c_str(), 0755));
    Write(t, "d/f", O_CREAT | O_WRONLY, "x");
    links("d");
    t.Call("rename d/a d/b/a", ::rename(t.Path("d/a").c_str(), t.Path("d/b/a").c_str()));
    links("d");
    links("d/b");
    t.Call("rename d/b e", ::rename(t.Path("d/b").c_str(), t.Path("e").c_str()));
    links("");
    links("d");
    t.Call("rmdir e/a", ::rmdir(t.Path("e/a").c_str()));
    links("e");
  }));
}

// The mount's atime rules other than relatime; ext4 here is relatime, so the outcome is
// written down instead of compared.
TEST_F(PosixTimes, Noatime_ReadsLeaveAtime_Strictatime_EveryReadMovesIt) {
  Run([](Transcript& t) { Write(t, "f", O_CREAT | O_WRONLY, "hello"); });
  for (const std::string mode : {"noatime", "strictatime"}) {
    absl::StatusOr<std::string> other = cluster().AddMount({"-o", mode});
    ASSERT_TRUE(other.ok()) << other.status();
    Transcript t(*other + "/" + TestName());
    for (int i = 0; i < 2; ++i) Step(t, {"f"}, [&] { Read(t, "f"); });
    cluster().Unmount(*other);
    // strictatime: the second read comes within the mount's atime interval (1 s per inode),
    // which keeps a file read in a loop from making a version per read; ext4 would move it.
    const std::string first = mode == "noatime" ? "-" : "a";
    EXPECT_EQ(t.lines(), (std::vector<std::string>{
                             "root: open f -> 0", "root: read -> 5", "root:   changed: f=" + first,
                             "root: open f -> 0", "root: read -> 5", "root:   changed: f=-"}))
        << mode;
  }
}

}  // namespace
}  // namespace chainfs::testing
