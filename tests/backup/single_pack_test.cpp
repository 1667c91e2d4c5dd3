// The pipeline's fast path: a repository whose objects are exactly one pack is bundled by
// copying that pack; anything else goes through git pack-objects.
#include <gtest/gtest.h>

#include "backup/repository_backup.h"
#include "base/files.h"
#include "tests/support/test_support.h"

namespace gitvault {
namespace {

using testing::ScratchDir;
using testing::sh;

class SinglePack : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::make_fixture_storage(dir_ / "fixture", 10);
    repo_ = dir_ / "s/repo.git";
    // An unreachable object kept in the pack tells the two paths apart: a copied pack has
    // it, a pack from pack-objects (reachable objects only) does not.
    sh("git clone -q --bare " + (dir_ / "fixture/group/project.git") + " " + repo_ + " && cd " + repo_ +
       " && echo unreachable | git hash-object -w --stdin >/dev/null && git repack -adq --keep-unreachable");
  }
  // Backs the repository up with the fast path allowed; returns the bundle's bytes.
  std::string bundle() {
    LocalSink sink(dir_ / "out");
    RepositoryRecord rr;
    RepositoryBackupOptions o;
    o.reuse_single_pack = true;
    Repository repo{"s", "repo.git", "", repo_, ""};
    std::string name = std::string("b").append(std::to_string(n_++)).append(".bundle");
    backup_repository(
        repo, sink,
        [&](int) { return RepositoryFiles{name, name + ".refs", name + ".hooks", name + ".idx", name + ".rev", name + ".bitmap"}; },
        o, rr);
    return read_file(dir_ / ("out/" + name));
  }
  std::string pack_file() { return read_file(sh("ls " + repo_ + "/objects/pack/*.pack | tr -d '\\n'")); }
  void expect_restores_exactly(const std::string& bundle_bytes) {
    std::string clone = dir_ / ("clone" + std::to_string(n_) + ".git");
    testing::write_text(dir_ / "check.bundle", bundle_bytes);
    sh("git clone -q --mirror " + (dir_ / "check.bundle") + " " + clone + " && git --git-dir=" + clone + " fsck --no-progress --no-dangling");
    EXPECT_EQ(sh("git --git-dir=" + clone + " show-ref"), sh("git --git-dir=" + repo_ + " show-ref"));
  }
  ScratchDir dir_;
  std::string repo_;
  int n_ = 0;
};

TEST_F(SinglePack, OnlyPackIsCopiedAsItIs) {
  std::string b = bundle();
  std::string pack = pack_file();
  ASSERT_GT(b.size(), pack.size());
  EXPECT_TRUE(b.substr(b.size() - pack.size()) == pack);
  expect_restores_exactly(b);
}

TEST_F(SinglePack, LooseObjectsFallBackToPackObjects) {
  sh("cd " + repo_ + " && c=$(echo loose | git commit-tree HEAD^{tree} -p HEAD) && git update-ref refs/heads/loose $c");
  std::string b = bundle();
  std::string pack = pack_file();
  EXPECT_FALSE(b.substr(b.size() - std::min(b.size(), pack.size())) == pack);
  expect_restores_exactly(b);
}

TEST_F(SinglePack, SecondPackOrAlternatesFallBack) {
  sh("cd " + repo_ + " && c=$(echo second | git commit-tree HEAD^{tree} -p HEAD) && git update-ref refs/heads/second $c && "
     "git repack -dq");  // incremental: a second pack
  ASSERT_EQ(sh("ls " + repo_ + "/objects/pack/*.pack | wc -l"), "2\n");
  expect_restores_exactly(bundle());
  sh("cd " + repo_ + " && git repack -adq --keep-unreachable");
  sh("mkdir -p " + repo_ + "/objects/info && echo " + (dir_ / "fixture/group/project.git/objects") + " > " + repo_ +
     "/objects/info/alternates");
  std::string b = bundle();
  std::string pack = pack_file();
  EXPECT_FALSE(b.substr(b.size() - std::min(b.size(), pack.size())) == pack);
  expect_restores_exactly(b);
}

}  // namespace
}  // namespace gitvault
