// The in-process connectivity walk a restore runs after installing a pack as it is: every
// object reachable from the tips must be there, and what is missing is named.
#include "git/connectivity.h"

#include <gtest/gtest.h>

#include "git/refs.h"
#include "tests/support/test_support.h"

namespace gitvault {
namespace {

using testing::ScratchDir;
using testing::sh;

// A repository of loose objects (nothing packed), so one object can be taken away.
class Connectivity : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_ = dir_ / "r.git";
    sh("git init -q --bare " + repo_ + " && cd " + (dir_ / "") + " && git init -q w && cd w && " +
       "git config user.name T && git config user.email t@example.com && mkdir d && echo one > d/f && " +
       "echo two > g && git add -A && git commit -qm one && echo three > g && git commit -qam two && " +
       "git tag -a v1 -m v1 && git push -q " + repo_ + " HEAD:refs/heads/main refs/tags/v1");
  }
  std::string object_path(const std::string& oid) { return repo_ + "/objects/" + oid.substr(0, 2) + "/" + oid.substr(2); }
  std::string rev(const std::string& what) {
    std::string out = sh("git --git-dir=" + repo_ + " rev-parse " + what);
    return out.substr(0, out.find('\n'));
  }
  std::vector<std::string> tips() { return ref_tips(read_refs(repo_)); }
  ScratchDir dir_;
  std::string repo_;
};

TEST_F(Connectivity, AWholeRepositoryIsConnected) { EXPECT_EQ(first_missing_reachable(repo_, tips()), ""); }

TEST_F(Connectivity, AMissingBlobOfAnOlderCommitIsNamed) {
  std::string blob = rev("main~1:g");  // "two", only in the first commit
  sh("rm -f " + object_path(blob));
  std::string why = first_missing_reachable(repo_, tips());
  EXPECT_NE(why.find("blob " + blob), std::string::npos) << why;
}

TEST_F(Connectivity, AMissingTreeParentOrTagTargetIsNamed) {
  for (const std::string what : {"main:d", "main~1"}) {
    SCOPED_TRACE(what);
    std::string oid = rev(what);
    sh("cp " + object_path(oid) + " " + (dir_ / "kept") + " && rm -f " + object_path(oid));
    std::string why = first_missing_reachable(repo_, tips());
    EXPECT_NE(why.find(oid), std::string::npos) << why;
    EXPECT_NE(why.find("missing"), std::string::npos) << why;
    sh("cp " + (dir_ / "kept") + " " + object_path(oid));
  }
  EXPECT_EQ(first_missing_reachable(repo_, tips()), "");
  // A tag's target: only the tag names the commit when the branch is gone.
  sh("git --git-dir=" + repo_ + " update-ref -d refs/heads/main");
  std::string commit = rev("v1^{commit}");
  sh("rm -f " + object_path(commit));
  std::string why = first_missing_reachable(repo_, tips());
  EXPECT_NE(why.find(commit), std::string::npos) << why;
}

}  // namespace
}  // namespace gitvault
