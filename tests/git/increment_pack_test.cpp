#include "git/increment_pack.h"

#include <gtest/gtest.h>

#include "git/refs.h"
#include "tests/support/test_support.h"

namespace gitvault {
namespace {

using testing::ScratchDir;
using testing::sh;

// A bare repository at "yesterday" (a mirror of it is kept) that then gains commits.
class IncrementPack : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::make_fixture_storage(dir_.path(), 10);
    repo_ = dir_ / "group/project.git";
    yesterday_ = dir_ / "yesterday.git";
    sh("git clone -q --mirror " + repo_ + " " + yesterday_);
    prerequisites_ = ref_tips(read_refs(repo_));
  }
  // Commits `files` (name, size) on `branch` of the live repository.
  void commit(const std::string& branch, const std::vector<std::pair<std::string, int>>& files) {
    std::string work = dir_ / "work";
    sh("rm -rf " + work + " && git clone -q " + repo_ + " " + work + " && cd " + work + " && git checkout -q " +
       branch);
    for (const auto& [name, size] : files)
      sh("cd " + work + " && head -c " + std::to_string(size) + " /dev/urandom > " + name + " && git add " + name);
    sh("cd " + work + " && git -c user.name=t -c user.email=t@e commit -q -m nightly && git push -q origin " + branch);
  }
  // Indexes the pack into yesterday's copy, moves its refs to today's, and checks git finds
  // every object reachable from them.
  void expect_pack_completes_yesterday(const std::string& pack) {
    std::string file = dir_ / "inc.pack";
    testing::write_text(file, pack);
    sh("cd " + yesterday_ + " && git index-pack --stdin --fix-thin >/dev/null < " + file);
    sh("cd " + repo_ + " && git for-each-ref --format='update %(refname) %(objectname)' | git --git-dir=" + yesterday_ +
       " update-ref --stdin");
    EXPECT_EQ(testing::sh_status("git --git-dir=" + yesterday_ + " fsck --connectivity-only --no-dangling 2>&1"), 0);
    std::string tips = sh("git --git-dir=" + repo_ + " for-each-ref --format='%(objectname)' | tr '\\n' ' '");
    EXPECT_EQ(sh("git --git-dir=" + yesterday_ + " rev-list --objects " + tips + " | sort"),
              sh("git --git-dir=" + repo_ + " rev-list --objects " + tips + " | sort"));
  }
  ScratchDir dir_;
  std::string repo_, yesterday_;
  std::vector<std::string> prerequisites_;
};

TEST_F(IncrementPack, NewCommitsOnSeveralBranchesCompleteYesterdaysRepository) {
  commit("main", {{"a.bin", 5000}, {"d1/b.txt", 100}});
  commit("main", {{"c.bin", 7000}});
  commit("develop", {{"dev2.txt", 300}});
  sh("cd " + repo_ + " && git branch new-branch main && git branch -D feature/x -q");
  auto pack = small_increment_pack(repo_, ref_tips(read_refs(repo_)), prerequisites_);
  ASSERT_TRUE(pack.has_value());
  EXPECT_EQ(pack->substr(0, 4), "PACK");
  expect_pack_completes_yesterday(*pack);
}

TEST_F(IncrementPack, LeavesToGitWhatIsNotSmallOrNotPlain) {
  commit("main", {{"big.bin", 300000}});
  std::vector<std::string> tips = ref_tips(read_refs(repo_));
  EXPECT_TRUE(small_increment_pack(repo_, tips, prerequisites_).has_value());
  IncrementPackLimits few_bytes;
  few_bytes.max_bytes = 100000;
  EXPECT_FALSE(small_increment_pack(repo_, tips, prerequisites_, few_bytes).has_value()) << "bytes";
  commit("main", {{"more.txt", 10}});
  IncrementPackLimits one_commit;
  one_commit.max_commits = 1;
  EXPECT_FALSE(small_increment_pack(repo_, ref_tips(read_refs(repo_)), prerequisites_, one_commit).has_value())
      << "commits";
  // A new annotated tag is a tip that is not a commit: git packs it.
  sh("cd " + repo_ + " && git -c user.name=t -c user.email=t@e tag -a v9 -m v9 main");
  EXPECT_FALSE(small_increment_pack(repo_, ref_tips(read_refs(repo_)), prerequisites_).has_value()) << "tag";
  // Nothing new: nothing to pack.
  EXPECT_FALSE(small_increment_pack(repo_, prerequisites_, prerequisites_).has_value()) << "nothing new";
}

}  // namespace
}  // namespace gitvault
