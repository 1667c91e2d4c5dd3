// Smaller cases of trust, each seen once in the field: a subset restore on the pipeline
// with two storages given, and a garbage newest record.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

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

// A nightly timer always says --incremental; full_every decides when a new chain starts.
TEST_F(SmallCases, FullEveryTurnsAnIncrementalNightIntoAFullBackupOnceTheNewestFullIsOlder) {
  ASSERT_EQ(backup("full1").exit_code, 0);
  auto night = [&](const std::string& id, const std::string& every, const std::string& extra = "--json") {
    return gv({"backup", "--storage", "s1=" + (dir_ / "s1"), "--storage", "s2=" + (dir_ / "s2"), "--path",
               dir_ / "backups", "--id", id, "--incremental", "--full-every", every, extra});
  };
  auto n1 = night("n1", "1h");
  ASSERT_EQ(n1.exit_code, 0) << n1.out << n1.err;
  EXPECT_EQ(n1.err.find("starts a new chain"), std::string::npos) << n1.err;
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  auto n2 = night("n2", "1s");
  ASSERT_EQ(n2.exit_code, 0) << n2.out << n2.err;
  EXPECT_NE(n2.err.find("the newest full backup, full1, started more than full_every ago"), std::string::npos) << n2.err;
  auto listed = gv({"backups", "--path", dir_ / "backups", "--json"});
  // n1 built on full1 (nothing changed: every step unchanged); n2 is a full backup — chains of
  // one step — that takes full1's bundles again, nothing having changed (a weekly full of a
  // quiet installation costs what a night does); with --independent it writes them again.
  EXPECT_NE(listed.out.find("\"id\":\"n1\",\"incremental\":0"), std::string::npos) << listed.out;
  std::string n2_line = listed.out.substr(listed.out.find("\"id\":\"n2\""));
  n2_line = n2_line.substr(0, n2_line.find('\n'));
  EXPECT_NE(n2_line.find("\"needs\":[\"full1\"]"), std::string::npos) << n2_line;
  EXPECT_NE(n2_line.find("\"incremental\":0"), std::string::npos) << n2_line;
  EXPECT_NE(testing::read_text(dir_ / "backups/+gitvault/backups/n2.json").find("\"incremental\":false"), std::string::npos);
  EXPECT_EQ(testing::read_text(dir_ / "backups/+gitvault/backups/n2.json").find("\"step\":2"), std::string::npos);
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  auto n3 = night("n3", "1s", "--independent");
  ASSERT_EQ(n3.exit_code, 0) << n3.out << n3.err;
  listed = gv({"backups", "--path", dir_ / "backups", "--json"});
  std::string n3_line = listed.out.substr(listed.out.find("\"id\":\"n3\""));
  n3_line = n3_line.substr(0, n3_line.find('\n'));
  EXPECT_NE(n3_line.find("\"standalone\":true"), std::string::npos) << n3_line;
  EXPECT_NE(n3_line.find("\"unchanged\":0"), std::string::npos) << n3_line;
  std::string n1_line = listed.out.substr(listed.out.find("\"id\":\"n1\""));
  n1_line = n1_line.substr(0, n1_line.find('\n'));
  EXPECT_NE(n1_line.find("\"needs\":[\"full1\"]"), std::string::npos) << n1_line;
}

// A run whose id names a time is of that time (a history made quickly, a backup restarted
// late): full_every measures from the moments the ids name, as the headers it reads do. A
// month-old night right after its full one stays incremental, however long ago it was made.
TEST_F(SmallCases, FullEveryJudgesRunsByTheMomentsTheirIdsName) {
  auto run = [&](const std::string& id) {
    return gv({"backup", "--storage", "s1=" + (dir_ / "s1"), "--storage", "s2=" + (dir_ / "s2"), "--path",
               dir_ / "backups", "--id", id, "--incremental", "--full-every", "7d"});
  };
  auto kind = [&](const std::string& id) {
    const std::string text = testing::read_text(dir_ / ("backups/+gitvault/backups/" + id + ".json"));
    return text.find("\"incremental\":true") != std::string::npos ? "incremental" : "full";
  };
  for (const char* id : {"20261101000000", "20261101001500", "20261101003000", "20261101004500", "20261107230000",
                         "20261108003000", "20261108004500"}) {
    auto r = run(id);
    ASSERT_EQ(r.exit_code, 0) << id << r.out << r.err;
  }
  EXPECT_STREQ(kind("20261101000000"), "full");  // nothing before it
  for (const char* id : {"20261101001500", "20261101003000", "20261101004500", "20261107230000"})
    EXPECT_STREQ(kind(id), "incremental") << id;  // within 7 days of the full one's moment
  EXPECT_STREQ(kind("20261108003000"), "full");  // 7 days and 30 minutes after it
  EXPECT_STREQ(kind("20261108004500"), "incremental");
}

}  // namespace
}  // namespace gitvault
