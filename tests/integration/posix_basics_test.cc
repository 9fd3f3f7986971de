// Everyday operations by several users on the mount give what they give on a local ext4
// directory: the comparison harness (tests/fixtures/posix_compare.h) on one shared cluster.
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <string>

#include "tests/fixtures/posix_suite.h"

namespace chainfs::testing {
namespace {

class PosixBasics : public PosixSuite<PosixBasics> {};

// Writes `text` to a new file (O_CREAT|O_EXCL) and records each step.
void WriteNew(Transcript& t, const std::string& name, mode_t mode, const std::string& text) {
  int fd =
      static_cast<int>(t.Call(fmt::format("create {} {:04o}", name, mode),
                              ::open(t.Path(name).c_str(), O_CREAT | O_EXCL | O_WRONLY, mode)));
  if (fd < 0) return;
  t.Call("write", ::write(fd, text.data(), text.size()));
  t.Call("close", ::close(fd));
}

TEST_F(PosixBasics, OwnerWritesOthersReadByModeBits) {
  Compared c = Run([](Transcript& t) {
    RunAs(Alice(), t, [](Transcript& t) {
      WriteNew(t, "shared", 0644, "for everyone\n");
      WriteNew(t, "private", 0600, "for alice\n");
      WriteNew(t, "group", 0660, "for the group\n");
      t.Line(StatSummary(t.Path("private")));
    });
    RunAs(Bob(), t, [](Transcript& t) {
      t.Line(ContentSummary(t.Path("shared")));
      t.Line(ContentSummary(t.Path("private")));
      t.Call("open shared O_WRONLY", ::open(t.Path("shared").c_str(), O_WRONLY));
      t.Line(StatSummary(t.Path("private")));
    });
    RunAs(Carol(), t, [](Transcript& t) { t.Line(ContentSummary(t.Path("private"))); });
    t.Line(ContentSummary(t.Path("private")));  // root reads anything
  });
  EXPECT_SAME_AS_LOCAL(c);
  // The harness really switched users: ext4 refused bob.
  EXPECT_NE(std::find(c.local.begin(), c.local.end(), "bob: open shared O_WRONLY -> EACCES"),
            c.local.end())
      << c.Diff();
}

TEST_F(PosixBasics, OnlyTheOwnerChangesModeAndOnlyRootGivesFilesAway) {
  EXPECT_SAME_AS_LOCAL(Run([](Transcript& t) {
    RunAs(Alice(), t, [](Transcript& t) {
      WriteNew(t, "f", 0644, "x");
      t.Call("chmod f 0640", ::chmod(t.Path("f").c_str(), 0640));
      t.Call("chown f bob", ::chown(t.Path("f").c_str(), Bob().uid, -1));
      t.Call("chgrp f 3000", ::chown(t.Path("f").c_str(), -1, 3000));
      t.Call("chgrp f 1002", ::chown(t.Path("f").c_str(), -1, 1002));
    });
    RunAs(Bob(), t, [](Transcript& t) {
      t.Call("chmod f 0777", ::chmod(t.Path("f").c_str(), 0777));
      t.Line(ContentSummary(t.Path("f")));  // group 3000 may read
    });
    t.Call("chown f bob", ::chown(t.Path("f").c_str(), Bob().uid, Bob().gid));
    t.Line(StatSummary(t.Path("f")));
  }));
}

TEST_F(PosixBasics, DirectoriesByOtherUsersAndTheStickyBit) {
  EXPECT_SAME_AS_LOCAL(Run([](Transcript& t) {
    t.Call("mkdir tmp 01777", ::mkdir(t.Path("tmp").c_str(), 0777));
    t.Call("chmod tmp 01777", ::chmod(t.Path("tmp").c_str(), 01777));
    t.Call("mkdir closed 0755", ::mkdir(t.Path("closed").c_str(), 0755));
    RunAs(Alice(), t, [](Transcript& t) {
      WriteNew(t, "tmp/alice", 0644, "a");
      WriteNew(t, "closed/alice", 0644, "a");
      t.Call("mkdir tmp/d", ::mkdir(t.Path("tmp/d").c_str(), 0755));
    });
    RunAs(Bob(), t, [](Transcript& t) {
      t.Call("unlink tmp/alice", ::unlink(t.Path("tmp/alice").c_str()));
      t.Call("rename tmp/alice tmp/b",
             ::rename(t.Path("tmp/alice").c_str(), t.Path("tmp/b").c_str()));
      t.Call("rmdir tmp/d", ::rmdir(t.Path("tmp/d").c_str()));
      WriteNew(t, "tmp/bob", 0644, "b");
    });
    RunAs(Alice(), t, [](Transcript& t) {
      t.Call("unlink tmp/alice", ::unlink(t.Path("tmp/alice").c_str()));
      t.Call("unlink tmp/bob", ::unlink(t.Path("tmp/bob").c_str()));
      t.Call("rmdir tmp/d", ::rmdir(t.Path("tmp/d").c_str()));
    });
    t.Line(StatSummary(t.Path("tmp")));
  }));
}

}  // namespace
}  // namespace chainfs::testing
