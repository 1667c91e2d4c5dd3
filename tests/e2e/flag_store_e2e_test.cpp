// The flag store as a package or systemd's StateDirectory= leaves it: a directory and no
// file yet; and a store lost after an emergency opt-out, remembered from the backup record.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "base/encoding.h"
#include "base/files.h"
#include "base/system.h"
#include "tests/support/test_support.h"

namespace gitvault {
namespace {

using nlohmann::json;
using testing::ScratchDir;
using testing::sh;

class FlagStoreOnDisk : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::make_fixture_storage(dir_ / "storage", 20);
    sh("mkdir -p " + (dir_ / "state"));  // the directory exists, the store does not
  }
  testing::CommandResult gv(std::vector<std::string> args) {
    return testing::gitvault(args, {{"GITVAULT_FLAGS_DB", dir_ / "state/flags.db"}});
  }
  testing::CommandResult backup(const std::string& id) {
    return gv({"backup", "--storage", "default=" + (dir_ / "storage"), "--path", dir_ / "backups", "--id", id});
  }
  json record(const std::string& id) { return parse_json_text(read_file(dir_ / ("backups/+gitvault/backups/" + id + ".json"))); }
  ScratchDir dir_;
};

TEST_F(FlagStoreOnDisk, AFreshStoreInAnExistingDirectoryIsCreatedAndEveryCommandAgreesOnTheDefault) {
  auto eval = gv({"feature", "eval", "gitaly_backup", "--repository", "group/project.git", "--json"});
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  EXPECT_TRUE(json::parse(eval.out)["enabled"].get<bool>());
  EXPECT_EQ(json::parse(eval.out)["reason"], "default");
  EXPECT_TRUE(path_exists(dir_ / "state/flags.db"));  // created with its schema on first use
  auto list = gv({"feature", "list"});
  EXPECT_NE(list.out.find("not set (default)"), std::string::npos) << list.out;
  auto b = backup("n1");
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(b.err.find("warning"), std::string::npos) << b.err;
  EXPECT_NE(b.out.find("paths: 6 pipeline, 0 legacy"), std::string::npos) << b.out;
  // The record keeps the flag state the run used.
  json flags = record("n1")["flags"];
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0]["name"], "gitaly_backup");
  EXPECT_FALSE(flags[0]["state"]["persisted"].get<bool>());
}

TEST_F(FlagStoreOnDisk, AnOptOutSurvivesALostStoreUntilAnOperatorWritesTheFlag) {
  ASSERT_EQ(gv({"feature", "set", "gitaly_backup", "false"}).exit_code, 0);
  ASSERT_EQ(backup("n1").exit_code, 0);
  json f = record("n1")["flags"][0];
  EXPECT_TRUE(f["state"]["persisted"].get<bool>());
  EXPECT_EQ(f["action"], "disable");
  EXPECT_EQ(f["changed_by"], os_user());
  EXPECT_EQ(f["changed_on_host"], host_name());

  sh("rm -f " + (dir_ / "state/flags.db*"));  // the store is lost; its directory stays
  auto b = backup("n2");
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_NE(b.out.find("paths: 0 pipeline, 6 legacy"), std::string::npos) << b.out;
  EXPECT_NE(b.err.find("knows nothing of gitaly_backup"), std::string::npos) << b.err;
  EXPECT_NE(b.err.find("by " + os_user() + "@" + host_name()), std::string::npos) << b.err;
  EXPECT_NE(b.err.find("backup n1"), std::string::npos) << b.err;
  // feature eval and list, given the backup directory, say what the backup did.
  auto eval = gv({"feature", "eval", "gitaly_backup", "--repository", "group/project.git", "--json", "--path",
                  dir_ / "backups"});
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  EXPECT_FALSE(json::parse(eval.out)["enabled"].get<bool>());
  EXPECT_EQ(json::parse(eval.out)["reason"], "remembered");
  auto list = gv({"feature", "list", "--path", dir_ / "backups"});
  EXPECT_NE(list.out.find("remembered from backup n2"), std::string::npos) << list.out;
  // The next night remembers it again (the record of n2 carries it on).
  auto n3 = backup("n3");
  EXPECT_NE(n3.out.find("paths: 0 pipeline, 6 legacy"), std::string::npos) << n3.out;
  // An operator's delete ends it: the default (on) applies.
  ASSERT_EQ(gv({"feature", "delete", "gitaly_backup"}).exit_code, 0);
  auto n4 = backup("n4");
  ASSERT_EQ(n4.exit_code, 0) << n4.err;
  EXPECT_NE(n4.out.find("paths: 6 pipeline, 0 legacy"), std::string::npos) << n4.out;
  EXPECT_EQ(n4.err.find("knows nothing"), std::string::npos) << n4.err;
}

TEST_F(FlagStoreOnDisk, AStoreThatExistsButCannotBeReadStillTurnsEveryFlagOff) {
  testing::write_text(dir_ / "state/flags.db", "this is not a database");
  auto b = backup("n1");
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_NE(b.out.find("paths: 0 pipeline, 6 legacy"), std::string::npos) << b.out;
  auto list = gv({"feature", "list"});
  EXPECT_NE(list.out.find("flag store unreadable"), std::string::npos) << list.out << list.err;
  auto eval = gv({"feature", "eval", "gitaly_backup", "--json"});
  EXPECT_EQ(json::parse(eval.out)["reason"], "store_error");
}

}  // namespace
}  // namespace gitvault
