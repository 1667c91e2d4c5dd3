// `gitvault feature` as an operator types it, against a real store file.
#include <gtest/gtest.h>
#include <zlib.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "base/files.h"
#include "tests/support/test_support.h"

namespace gitvault {
namespace {

using testing::ScratchDir;

class FeatureCli : public ::testing::Test {
 protected:
  testing::CommandResult gv(std::vector<std::string> args) {
    args.insert(args.begin() + 1, {"--flags-db", db()});
    return testing::gitvault(args);
  }
  testing::CommandResult feature(std::vector<std::string> args) {
    args.insert(args.begin(), "feature");
    return gv(args);
  }
  nlohmann::json eval_json(const std::string& repo) {
    auto r = feature({"eval", "gitaly_backup", "--repository", repo, "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out);
  }
  std::string db() { return dir_ / "var/flags.db"; }
  ScratchDir dir_;
};

std::uint32_t bucket(const std::string& s) {
  return static_cast<std::uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size())) % 100000);
}

TEST_F(FeatureCli, RolloutChecklistThenEmergencyOffThenDelete) {
  auto r = feature({"list"});
  EXPECT_NE(r.out.find("gitaly_backup"), std::string::npos);
  EXPECT_NE(r.out.find("not set (default)"), std::string::npos);
  EXPECT_TRUE(eval_json("a.git")["enabled"].get<bool>());
  EXPECT_EQ(eval_json("a.git")["reason"], "default");

  ASSERT_EQ(feature({"set", "gitaly_backup", "false"}).exit_code, 0);
  ASSERT_EQ(feature({"set", "gitaly_backup", "true", "--repository", "group/early.git"}).exit_code, 0);
  ASSERT_EQ(feature({"set", "gitaly_backup", "25", "--actors"}).exit_code, 0);
  auto early = eval_json("group/early.git");
  EXPECT_TRUE(early["enabled"].get<bool>());
  EXPECT_EQ(early["reason"], "actor");
  // Bucket for bucket against the reference formula.
  int on = 0;
  for (int i = 0; i < 200; ++i) {
    std::string repo = "group/p" + std::to_string(i) + ".git";
    bool want = bucket("gitaly_backupRepository:" + repo) < 25000;
    auto j = eval_json(repo);
    EXPECT_EQ(j["enabled"].get<bool>(), want) << repo;
    EXPECT_EQ(j["reason"], "percentage_of_actors");
    on += want;
  }
  EXPECT_GT(on, 25);
  EXPECT_LT(on, 75);

  // Emergency: one command, whatever gates are set.
  ASSERT_EQ(feature({"set", "gitaly_backup", "false"}).exit_code, 0);
  EXPECT_FALSE(eval_json("group/early.git")["enabled"].get<bool>());
  for (int i = 0; i < 20; ++i) EXPECT_FALSE(eval_json("group/p" + std::to_string(i) + ".git")["enabled"].get<bool>());
  r = feature({"list"});
  EXPECT_NE(r.out.find("stored state overrides the default"), std::string::npos) << r.out;

  ASSERT_EQ(feature({"delete", "gitaly_backup"}).exit_code, 0);
  EXPECT_EQ(eval_json("group/early.git")["reason"], "default");
  EXPECT_EQ(feature({"delete", "gitaly_backup"}).exit_code, 0);  // idempotent

  auto log = feature({"log", "gitaly_backup", "--json"});
  std::vector<std::string> actions;
  std::istringstream lines(log.out);
  for (std::string line; std::getline(lines, line);) actions.push_back(nlohmann::json::parse(line)["action"]);
  EXPECT_EQ(actions, (std::vector<std::string>{"disable", "enable", "enable_percentage_of_actors", "disable", "delete",
                                               "delete"}));
}

TEST_F(FeatureCli, OptOutWinsOverGlobalEnableAndBlocksEnablingTheActor) {
  ASSERT_EQ(feature({"set", "gitaly_backup", "opt_out", "--repository", "big/monorepo.git"}).exit_code, 0);
  auto j = eval_json("big/monorepo.git");
  EXPECT_FALSE(j["enabled"].get<bool>());
  EXPECT_EQ(j["reason"], "opt_out");
  EXPECT_TRUE(eval_json("other.git")["enabled"].get<bool>());
  auto r = feature({"set", "gitaly_backup", "true", "--repository", "big/monorepo.git"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("opt-out"), std::string::npos) << r.err;
  ASSERT_EQ(feature({"set", "gitaly_backup", "remove_opt_out", "--repository", "big/monorepo.git"}).exit_code, 0);
  EXPECT_TRUE(eval_json("big/monorepo.git")["enabled"].get<bool>());
}

TEST_F(FeatureCli, RefusalsExitTwoWithAClearMessageAndChangeNothing) {
  ASSERT_EQ(feature({"set", "gitaly_backup", "true"}).exit_code, 0);
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  std::vector<Case> cases = {
      {{"set", "gitaly_backup", "30", "--repository", "a.git"}, "cannot be combined with targets"},
      {{"set", "gitaly_backup", "30"}, "fully enabled"},
      {{"set", "gitaly_backup", "101"}, "from 0 to 100"},
      {{"set", "gitaly_backup", "-5"}, "invalid percentage"},
      {{"set", "gitaly_backup", "1.2345", "--actors"}, "three decimals"},
      {{"set", "no_such_flag", "true"}, "unknown feature flag 'no_such_flag'"},
      {{"get", "no_such_flag"}, "unknown feature flag"},
      {{"set", "gitaly_backup", "opt_out"}, "needs a target"},
      {{"set", "gitaly_backup", "true", "--feature-group", "x"}, "no feature groups"},
  };
  std::size_t events = feature({"log", "--json"}).out.size();
  for (const auto& c : cases) {
    auto r = feature(c.args);
    EXPECT_EQ(r.exit_code, 2) << ::testing::PrintToString(c.args);
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
  }
  EXPECT_EQ(feature({"log", "--json"}).out.size(), events);
}

TEST_F(FeatureCli, TwoProcessesTogglingConcurrentlyLoseNoEvent) {
  ASSERT_EQ(feature({"list"}).exit_code, 0);
  auto toggle = [&](const char* value) {
    for (int i = 0; i < 25; ++i) {
      auto r = feature({"set", "gitaly_backup", value});
      EXPECT_EQ(r.exit_code, 0) << r.err;
    }
  };
  std::thread a(toggle, "true"), b(toggle, "false");
  a.join();
  b.join();
  auto log = feature({"log", "--json"});
  EXPECT_EQ(std::count(log.out.begin(), log.out.end(), '\n'), 50);
}

TEST_F(FeatureCli, CorruptOrReadOnlyStore) {
  ASSERT_EQ(feature({"set", "gitaly_backup", "false"}).exit_code, 0);
  testing::sh("chmod 0444 " + db());
  auto r = feature({"set", "gitaly_backup", "true"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("read-only"), std::string::npos) << r.err;
  EXPECT_FALSE(eval_json("a.git")["enabled"].get<bool>());  // still readable, still off
  testing::sh("chmod 0644 " + db() + " && rm -f " + db() + "-wal " + db() + "-shm && head -c 4096 /dev/urandom > " + db());
  r = feature({"eval", "gitaly_backup", "--repository", "a.git", "--json"});
  EXPECT_EQ(r.exit_code, 0);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_FALSE(j["enabled"].get<bool>());
  EXPECT_EQ(j["reason"], "store_error");
  EXPECT_NE(r.err.find(db()), std::string::npos) << r.err;
  EXPECT_EQ(feature({"list"}).exit_code, 1);
}

TEST_F(FeatureCli, EnvironmentOverrideBeatsTheStore) {
  ASSERT_EQ(feature({"set", "gitaly_backup", "true"}).exit_code, 0);
  auto r = testing::gitvault({"feature", "--flags-db", db(), "eval", "gitaly_backup", "--json"},
                             {{"GITVAULT_FEATURES", "gitaly_backup=false"}});
  auto j = nlohmann::json::parse(r.out);
  EXPECT_FALSE(j["enabled"].get<bool>());
  EXPECT_EQ(j["reason"], "override");
}

}  // namespace
}  // namespace gitvault
