// Smaller cases of trust, each seen once in the field: a subset restore on the pipeline
// with two storages given, and a garbage newest record.
#include <gtest/gtest.h>

#include "base/files.h"
#include "tests/support/test_support.h"

namespace gitvault {
namespace {

using testing::ScratchDir;
using testing::sh;

class SmallCases : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::make_fixture_storage(dir_ / "s1", 20);
    sh("mkdir -p " + (dir_ / "s2") + " && git clone -q --bare " + (dir_ / "s1/group/project.git") + " " +
       (dir_ / "s2/other.git"));
  }
  testing::CommandResult gv(std::vector<std::string> args) {
    return testing::gitvault(args, {{"GITVAULT_FLAGS_DB", dir_ / "flags/flags.db"}});
  }
  testing::CommandResult backup(const std::string& id) {
    return gv({"backup", "--storage", "s1=" + (dir_ / "s1"), "--storage", "s2=" + (dir_ / "s2"), "--path",
               dir_ / "backups", "--id", id});
  }
  ScratchDir dir_;
};

TEST_F(SmallCases, ASubsetRestoreWithTwoStoragesGivenTouchesOnlyTheStorageItRestoresInto) {
  for (const std::string flag : {"true", "false"}) {
    ASSERT_EQ(gv({"feature", "set", "gitaly_backup", flag}).exit_code, 0);
    ASSERT_EQ(backup("b-" + flag).exit_code, 0);
    std::string r1 = dir_ / ("r1-" + flag), r2 = dir_ / ("r2-" + flag);
    auto r = gv({"restore", "--storage", "s1=" + r1, "--storage", "s2=" + r2, "--path", dir_ / "backups", "--id",
                 "b-" + flag, "--repositories-paths", "group/project.git"});
    EXPECT_EQ(r.exit_code, 0) << "flag " << flag << ": " << r.out << r.err;
    EXPECT_NE(r.out.find("1 restored and verified, 0 failed"), std::string::npos) << r.out;
    EXPECT_TRUE(path_exists(r1 + "/group/project.git"));
    EXPECT_FALSE(path_exists(r2)) << "a storage nothing was restored into was created";
  }
}

TEST_F(SmallCases, AGarbageNewestRecordIsNeverSilentlySkippedByRestore) {
  ASSERT_EQ(backup("n1").exit_code, 0);
  ASSERT_EQ(backup("n2").exit_code, 0);
  testing::write_text(dir_ / "backups/+gitvault/backups/n2.json", "{\"format\":1,\"id\":\"n2\",\"sta");
  auto r = gv({"restore", "--storage", "s1=" + (dir_ / "r1"), "--storage", "s2=" + (dir_ / "r2"), "--path",
               dir_ / "backups"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("backup n2"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--id n1"), std::string::npos) << r.err;
  EXPECT_FALSE(path_exists(dir_ / "r1"));
  auto named = gv({"restore", "--storage", "s1=" + (dir_ / "r1"), "--storage", "s2=" + (dir_ / "r2"), "--path",
                   dir_ / "backups", "--id", "n1"});
  EXPECT_EQ(named.exit_code, 0) << named.out << named.err;
}

}  // namespace
}  // namespace gitvault
