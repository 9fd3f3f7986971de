// Hard links on the mount give what they give on a local ext4 directory (the comparison
// harness, tests/fixtures/posix_compare.h, on one shared cluster): link, both names with one
// inode number and the link count, content written through one name read through the other,
// chmod through one name, unlink of one name, rename onto another name of the same file,
// link of a directory (EPERM), onto an existing name (EEXIST), of a symlink, and the kernel's
// protected_hardlinks rule for other users; nlink after each step.
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "tests/fixtures/posix_suite.h"

namespace chainfs::testing {
namespace {

class PosixLinks : public PosixSuite<PosixLinks> {};

// Creates (or truncates) `name` and writes `text`, recording each step.
void WriteFile(Transcript& t, const std::string& name, const std::string& text) {
  int fd =
      static_cast<int>(t.Call("open " + name + " O_WRONLY|O_CREAT|O_TRUNC",
                              ::open(t.Path(name).c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644)));
  if (fd < 0) return;
  t.Call("write", ::write(fd, text.data(), text.size()));
  t.Call("close", ::close(fd));
}

// Whether two names have one inode number (the numbers themselves differ between the two).
std::string SameInode(Transcript& t, const std::string& a, const std::string& b) {
  struct stat sa = {}, sb = {};
  if (::lstat(t.Path(a).c_str(), &sa) != 0 || ::lstat(t.Path(b).c_str(), &sb) != 0) {
    return a + " " + b + " same inode -> " + ErrnoName(errno);
  }
  return fmt::format("{} {} same inode: {}", a, b, sa.st_ino == sb.st_ino ? "yes" : "no");
}

void Link(Transcript& t, const std::string& from, const std::string& to) {
  t.Call("link " + from + " " + to, ::link(t.Path(from).c_str(), t.Path(to).c_str()));
}

TEST_F(PosixLinks, BothNamesShareInodeCountAndContent) {
  Compared c = Run([](Transcript& t) {
    WriteFile(t, "f", "hello");
    t.Line(StatSummary(t.Path("f")));
    Link(t, "f", "g");
    t.Line(StatSummary(t.Path("f")));
    t.Line(StatSummary(t.Path("g")));
    t.Line(SameInode(t, "f", "g"));
    WriteFile(t, "g", "written through g");
    t.Line(ContentSummary(t.Path("f")));
    t.Line(StatSummary(t.Path("f")));
    t.Call("chmod f 0600", ::chmod(t.Path("f").c_str(), 0600));
    t.Line(StatSummary(t.Path("g")));
    Link(t, "g", "h");
    t.Line(StatSummary(t.Path("f")));
    t.Call("unlink f", ::unlink(t.Path("f").c_str()));
    t.Line(StatSummary(t.Path("f")));
    t.Line(StatSummary(t.Path("g")));
    t.Line(ContentSummary(t.Path("h")));
    t.Call("unlink h", ::unlink(t.Path("h").c_str()));
    t.Line(StatSummary(t.Path("g")));
    t.Call("unlink g", ::unlink(t.Path("g").c_str()));
    t.Line(StatSummary(t.Path("g")));
  });
  EXPECT_SAME_AS_LOCAL(c);
  // The scenario did what it says on ext4: one inode, counted.
  EXPECT_NE(std::find(c.local.begin(), c.local.end(), "root: f g same inode: yes"), c.local.end())
      << c.Diff();
  EXPECT_NE(std::find_if(c.local.begin(), c.local.end(),
                         [](const std::string& l) { return l.ends_with("nlink=3"); }),
            c.local.end())
      << c.Diff();
}

TEST_F(PosixLinks, RenameOntoAnotherNameOfTheSameFileDoesNothing) {
  EXPECT_SAME_AS_LOCAL(Run([](Transcript& t) {
    WriteFile(t, "f", "one file");
    Link(t, "f", "g");
    t.Call("rename f g", ::rename(t.Path("f").c_str(), t.Path("g").c_str()));
    t.Line(StatSummary(t.Path("f")));
    t.Line(StatSummary(t.Path("g")));
    t.Call("mkdir d", ::mkdir(t.Path("d").c_str(), 0755));
    t.Call("rename g d/g", ::rename(t.Path("g").c_str(), t.Path("d/g").c_str()));
    t.Line(SameInode(t, "f", "d/g"));
    t.Line(StatSummary(t.Path("f")));
    WriteFile(t, "other", "another file");
    t.Call("rename other f", ::rename(t.Path("other").c_str(), t.Path("f").c_str()));
    t.Line(StatSummary(t.Path("d/g")));
    t.Line(ContentSummary(t.Path("d/g")));
    t.Line(ContentSummary(t.Path("f")));
  }));
}

TEST_F(PosixLinks, LinkRefusesDirectoriesExistingNamesAndMissingOnes) {
  EXPECT_SAME_AS_LOCAL(Run([](Transcript& t) {
    t.Call("mkdir d", ::mkdir(t.Path("d").c_str(), 0755));
    WriteFile(t, "f", "x");
    WriteFile(t, "taken", "y");
    Link(t, "d", "d2");
    Link(t, "f", "taken");
    Link(t, "missing", "m");
    Link(t, "f", "nodir/f");
    t.Line(StatSummary(t.Path("f")));
    t.Line(ContentSummary(t.Path("taken")));
  }));
}

TEST_F(PosixLinks, LinkOfASymlinkLinksTheSymlink) {
  EXPECT_SAME_AS_LOCAL(Run([](Transcript& t) {
    WriteFile(t, "target", "pointed at");
    t.Call("symlink s", ::symlink("target", t.Path("s").c_str()));
    Link(t, "s", "t");
    t.Line(StatSummary(t.Path("t")));
    t.Line(StatSummary(t.Path("target")));
    char buf[64] = {};
    t.Call("readlink t", ::readlink(t.Path("t").c_str(), buf, sizeof(buf)));
    t.Line(std::string("link text=") + buf);
    t.Line(ContentSummary(t.Path("t")));
  }));
}

TEST_F(PosixLinks, OtherUsersLinkWhatTheKernelLetsThem) {
  EXPECT_SAME_AS_LOCAL(Run([](Transcript& t) {
    RunAs(Alice(), t, [](Transcript& t) {
      WriteFile(t, "alice", "mine");
      Link(t, "alice", "alice2");
      t.Line(StatSummary(t.Path("alice2")));
    });
    RunAs(Bob(), t, [](Transcript& t) {
      Link(t, "alice", "bob-link");  // protected_hardlinks: not his, not writable by him
      WriteFile(t, "bob", "his");
      Link(t, "bob", "bob2");
      t.Line(StatSummary(t.Path("bob2")));
      t.Call("unlink alice2", ::unlink(t.Path("alice2").c_str()));
    });
    t.Line(StatSummary(t.Path("alice")));
  }));
}

}  // namespace
}  // namespace chainfs::testing
