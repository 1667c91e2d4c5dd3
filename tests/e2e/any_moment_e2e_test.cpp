// Any moment (docs/retention.md): calendar retention end to end — a history of backups whose
// ids name their times, pruned by restic's rules, every kept backup still whole.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <nlohmann/json.hpp>

#include "tests/support/test_support.h"

namespace gitvault {
namespace {

using nlohmann::json;
using testing::ScratchDir;
using testing::sh;

class AnyMoment : public ::testing::Test {
 protected:
  void SetUp() override { testing::make_fixture_storage(dir_ / "storage", 5); }
  testing::CommandResult gv(std::vector<std::string> args) {
    return testing::gitvault(args, {{"GITVAULT_FLAGS_DB", dir_ / "flags.db"}, {"TZ", "UTC"}});
  }
  // A backup whose id names its time; the project gains a commit first, so chains grow.
  void backup_at(const std::string& id) {
    sh("cd " + (dir_ / "storage/group/project.git") + " && c=$(git -c safe.directory='*' commit-tree -p main -m " + id +
       " 'main^{tree}') && git -c safe.directory='*' update-ref refs/heads/main $c");
    auto b = gv({"backup", "--incremental", "--storage", "default=" + (dir_ / "storage"), "--path", dir_ / "backups",
                 "--id", id});
    ASSERT_EQ(b.exit_code, 0) << b.out << b.err;
  }
  ScratchDir dir_;
};

TEST_F(AnyMoment, PruneKeepsWhatResticsCalendarRulesKeepSaysWhyAndKeptBackupsStayWhole) {
  const std::vector<std::string> ids = {"20261101100000", "20261101220000", "20261102090000",
                                        "20261108090000", "20261115090000", "20261201090000",
                                        "20261203080000", "20261203200000", "20261204070000"};
  for (const auto& id : ids) backup_at(id);
  const std::vector<std::string> policy = {"--keep-daily", "3", "--keep-weekly", "2", "--keep-monthly", "2"};
  std::vector<std::string> args = {"prune", "--path", dir_ / "backups", "--dry-run", "--json"};
  args.insert(args.end(), policy.begin(), policy.end());
  auto plan = gv(args);
  ASSERT_EQ(plan.exit_code, 0) << plan.out << plan.err;
  std::map<std::string, std::string> kept;
  std::set<std::string> removed;
  std::size_t start = 0;
  while (start < plan.out.size()) {
    std::size_t end = plan.out.find('\n', start);
    json j = json::parse(plan.out.substr(start, end - start));
    start = end + 1;
    if (j["event"] == "kept") {
      std::string why;
      for (const auto& r : j["reasons"]) why += (why.empty() ? "" : ",") + r.get<std::string>();
      kept[j["id"]] = why;
    } else if (j["event"] == "would_remove") {
      removed.insert(j["id"].get<std::string>());
    }
  }
  // Newest first: Dec 4 (day, ISO week 49, December), Dec 3 20:00 (day), Dec 3 08:00 (same
  // day: no), Dec 1 (day; its week and month already counted), Nov 15 (week 46, November),
  // then every count is spent.
  EXPECT_EQ(kept, (std::map<std::string, std::string>{{"20261204070000", "newest complete,daily,weekly,monthly"},
                                                      {"20261203200000", "daily"},
                                                      {"20261201090000", "daily"},
                                                      {"20261115090000", "weekly,monthly"}}))
      << plan.out;
  EXPECT_EQ(removed, (std::set<std::string>{"20261203080000", "20261108090000", "20261102090000", "20261101220000",
                                            "20261101100000"}));
  std::vector<std::string> real = {"prune", "--path", dir_ / "backups"};
  real.insert(real.end(), policy.begin(), policy.end());
  auto done = gv(real);
  ASSERT_EQ(done.exit_code, 0) << done.out << done.err;
  EXPECT_NE(done.out.find("keep backup 20261115090000 (weekly, monthly)"), std::string::npos) << done.out;
  // The kept backups still restore: their chains' earlier steps were kept with them.
  auto v = gv({"verify", "--path", dir_ / "backups", "--all", "--deep"});
  EXPECT_EQ(v.exit_code, 0) << v.out;
  auto r = gv({"restore", "--storage", "default=" + (dir_ / "restored"), "--path", dir_ / "backups", "--id",
               "20261115090000", "--repositories-paths", "group/project.git"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(sh("git -c safe.directory='*' --git-dir=" + (dir_ / "restored/group/project.git") + " log -1 --format=%s main")
                .find("20261115090000"),
            std::string::npos);
}

}  // namespace
}  // namespace gitvault
