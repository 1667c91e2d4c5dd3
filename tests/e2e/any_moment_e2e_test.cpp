// Any moment (docs/retention.md): calendar retention end to end — a history of backups whose
// ids name their times, pruned by restic's rules, every kept backup still whole.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <nlohmann/json.hpp>

#include "base/files.h"
#include "base/system.h"
#include "s3/client.h"
#include "tests/support/fault_proxy.h"
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

// A morning of 15-minute backups with ref changes between them, one repository broken in one
// backup: `restore --at` many moments, on both engines, compared with the state fingerprinted
// at each.
TEST_F(AnyMoment, RestoreAtAMomentBringsBackEachRepositoryAsItWasThenOnBothEngines) {
  const std::string project = dir_ / "storage/group/project.git", detached = dir_ / "storage/group/detached.git";
  auto git = [](const std::string& repo, const std::string& args) {
    sh("git -c safe.directory='*' --git-dir=" + repo + " " + args);
  };
  std::map<std::string, std::pair<std::string, std::string>> state;  // id -> refs of (project, detached)
  const std::vector<std::string> ids = {"20261204080000", "20261204081500", "20261204083000", "20261204084500"};
  for (std::size_t i = 0; i < ids.size(); ++i) {
    sh("cd " + project + " && c=$(git -c safe.directory='*' commit-tree -p main -m " + ids[i] +
       " 'main^{tree}') && git -c safe.directory='*' update-ref refs/heads/main $c");
    if (i == 1 || i == 3) git(detached, "update-ref refs/heads/d" + std::to_string(i) + " HEAD");
    if (i == 2) sh("echo '" + std::string(40, 'e') + " refs/heads/ghost' >> " + detached + "/packed-refs");
    if (i == 3) sh("sed -i '/refs\\/heads\\/ghost/d' " + detached + "/packed-refs");
    auto b = gv({"backup", "--incremental", "--storage", "default=" + (dir_ / "storage"), "--path", dir_ / "backups",
                 "--id", ids[i]});
    ASSERT_EQ(b.exit_code, i == 2 ? 1 : 0) << b.out << b.err;
    state[ids[i]] = {testing::show_ref(project), i == 2 ? state[ids[1]].second : testing::show_ref(detached)};
  }
  // (moment, the backup whose state it must be)
  const std::vector<std::pair<std::string, std::string>> moments = {
      {"2026-12-04T08:10:00Z", ids[0]}, {"2026-12-04T08:15:00Z", ids[1]}, {"2026-12-04T09:29:00+01:00", ids[1]},
      {"2026-12-04T08:40:00Z", ids[2]}, {"2026-12-04T08:50:00Z", ids[3]}};
  int n = 0;
  for (bool pipeline : {true, false}) {
    for (const auto& [at, id] : moments) {
      std::string target = dir_ / ("at-" + std::to_string(n++));
      auto r = testing::gitvault({"restore", "--storage", "default=" + target, "--path", dir_ / "backups", "--at", at},
                                 {{"GITVAULT_FLAGS_DB", dir_ / "flags.db"},
                                  {"GITVAULT_FEATURES", std::string("gitaly_backup=") + (pipeline ? "true" : "false")}});
      ASSERT_EQ(r.exit_code, 0) << at << " pipeline=" << pipeline << "\n" << r.out << r.err;
      EXPECT_EQ(testing::show_ref(target + "/group/project.git"), state[id].first) << at << " pipeline=" << pipeline;
      EXPECT_EQ(testing::show_ref(target + "/group/detached.git"), state[id].second) << at << " pipeline=" << pipeline;
      if (id == ids[2]) {  // the broken repository came from the backup before, and the summary says so
        EXPECT_NE(r.out.find("default/group/detached.git comes from backup " + ids[1]), std::string::npos) << r.out;
      }
    }
  }
  // One project back to a moment; nothing else touched.
  auto one = gv({"restore", "--storage", "default=" + (dir_ / "one"), "--path", dir_ / "backups", "--at",
                 "2026-12-04T08:20:00Z", "--repositories-paths", "group/project"});
  ASSERT_EQ(one.exit_code, 0) << one.out << one.err;
  EXPECT_EQ(testing::show_ref(dir_ / "one/group/project.git"), state[ids[1]].first);
  EXPECT_FALSE(path_exists(dir_ / "one/group/detached.git"));
  // `backups --at` and `verify --at` say what such a restore takes, and check exactly that.
  auto says = gv({"backups", "--path", dir_ / "backups", "--at", "2026-12-04T08:40:00Z"});
  ASSERT_EQ(says.exit_code, 0) << says.out << says.err;
  EXPECT_NE(says.out.find("takes backup " + ids[2]), std::string::npos) << says.out;
  EXPECT_NE(says.out.find("default/group/detached.git from backup " + ids[1]), std::string::npos) << says.out;
  auto checks = gv({"verify", "--path", dir_ / "backups", "--at", "2026-12-04T08:40:00Z", "--deep"});
  EXPECT_EQ(checks.exit_code, 0) << "the partial backup's failed repository is stood in for\n" << checks.out;
  EXPECT_NE(checks.out.find(ids[2] + ", " + ids[1]), std::string::npos) << checks.out;
  // Before the first backup: nothing to restore, said with the oldest moment there is.
  auto early = gv({"restore", "--storage", "default=" + (dir_ / "early"), "--path", dir_ / "backups", "--at",
                   "2026-12-04T07:00:00Z"});
  EXPECT_EQ(early.exit_code, 2);
  EXPECT_NE(early.err.find("the oldest is of 2026-12-04T08:00:00Z"), std::string::npos) << early.err;
}

// Frequent backups keep chains short: with --max-chain 3 a repository that changes every run
// starts a new chain at its fourth step, and every backup still restores.
TEST_F(AnyMoment, MaxChainStartsANewChainForARepositoryWhoseChainIsLong) {
  std::vector<int> steps;
  for (int i = 0; i < 5; ++i) {
    std::string id = "2026120409" + std::to_string(10 + i) + "00";
    sh("cd " + (dir_ / "storage/group/project.git") + " && c=$(git -c safe.directory='*' commit-tree -p main -m " + id +
       " 'main^{tree}') && git -c safe.directory='*' update-ref refs/heads/main $c");
    auto b = testing::gitvault({"backup", "--incremental", "--max-chain", "3", "--storage", "default=" + (dir_ / "storage"),
                                "--path", dir_ / "backups", "--id", id},
                               {{"GITVAULT_FLAGS_DB", dir_ / "flags.db"}, {"GITVAULT_FEATURES", "gitaly_backup=true"}});
    ASSERT_EQ(b.exit_code, 0) << b.out << b.err;
    std::string step = sh("python3 -c \"import json,sys\nfor l in open(sys.argv[1]):\n l=l.strip().rstrip(',')\n"
                          " try: j=json.loads(l)\n except ValueError: j={}\n"
                          " print(j['step'] if j.get('relative_path')=='group/project.git' else '',end='')\" " +
                          (dir_ / ("backups/+gitvault/backups/" + id + ".json")));
    steps.push_back(std::stoi(step));
  }
  EXPECT_EQ(steps, (std::vector<int>{1, 2, 3, 1, 2}));
  auto v = gv({"verify", "--path", dir_ / "backups", "--all", "--deep"});
  EXPECT_EQ(v.exit_code, 0) << v.out;
}

// A quiet night reads the headers it needs — back to the newest complete backup — not every
// record there is: its cost does not grow with the number of backups (issue "any moment",
// item 3). Counted with strace: which record files the run opens.
TEST_F(AnyMoment, AQuietIncrementalOpensOnlyTheNewestRecordsNotEveryOne) {
  for (int i = 0; i < 12; ++i) {
    auto b = gv({"backup", "--incremental", "--storage", "default=" + (dir_ / "storage"), "--path", dir_ / "backups",
                 "--id", std::string("20261204") + (i < 10 ? "0" : "") + std::to_string(i) + "0000"});
    ASSERT_EQ(b.exit_code, 0) << b.out << b.err;
  }
  const std::string trace = dir_ / "trace.txt";
  // (LeakSanitizer cannot run under ptrace: leaks are checked by every other test of the run.)
  sh("cd " + dir_.path() + " && TZ=UTC ASAN_OPTIONS=\"${ASAN_OPTIONS:-}:detect_leaks=0\" GITVAULT_FLAGS_DB=" +
     (dir_ / "flags.db") + " strace -f -qq -e trace=openat,open,openat2 -o " +
     trace + " " + testing::gitvault_binary() + " backup --incremental --storage default=" + (dir_ / "storage") +
     " --path " + (dir_ / "backups") + " --id 20261204230000 >/dev/null 2>&1");
  std::string opened = sh("grep -oE '2026120[0-9]{7}\\.json' " + trace + " | sort -u | tr '\\n' ' '");
  // The newest (complete) record, and the new one this run writes: not the eleven before.
  EXPECT_EQ(opened.find("20261204000000.json"), std::string::npos) << opened;
  EXPECT_EQ(opened.find("20261204050000.json"), std::string::npos) << opened;
  EXPECT_NE(opened.find("20261204110000.json"), std::string::npos) << opened;
}

// prune --dry-run decides from headers and reads a kept record only when a removed backup's
// files may be among its names: the kept bodies here are garbage, and the plan is still made.
TEST_F(AnyMoment, PruneReadsOnlyTheRecordsItsPlanTouchesNotEveryKeptOne) {
  backup_at("20261204000000");
  backup_at("20261204010000");
  auto full = gv({"backup", "--storage", "default=" + (dir_ / "storage"), "--path", dir_ / "backups", "--id",
                  "20261204020000", "--independent"});  // a new chain for every repository, nothing taken again
  ASSERT_EQ(full.exit_code, 0) << full.out << full.err;
  for (const char* id : {"20261204030000", "20261204040000", "20261204050000", "20261204060000", "20261204070000"})
    backup_at(id);
  std::map<std::string, std::string> intact;
  for (const char* id : {"20261204030000", "20261204040000", "20261204050000", "20261204060000"}) {
    const std::string path = dir_ / ("backups/+gitvault/backups/" + std::string(id) + ".json");
    intact[path] = read_file(path);
    const std::string& text = intact[path];
    const std::size_t body = text.find("\"repositories\":[\n") + 17;
    testing::write_text(path, text.substr(0, body) + "{not json at all\n]}\n");  // header and end intact
  }
  // The removed backups' records are not read either: their files are found by name.
  for (const char* id : {"20261204000000", "20261204010000"}) {
    const std::string path = dir_ / ("backups/+gitvault/backups/" + std::string(id) + ".json");
    const std::string text = read_file(path);
    testing::write_text(path, text.substr(0, text.find("\"repositories\":[\n") + 17) + "{not json either\n]}\n");
  }
  auto plan = gv({"prune", "--path", dir_ / "backups", "--dry-run", "--keep-last", "6"});
  ASSERT_EQ(plan.exit_code, 0) << plan.out << plan.err;
  EXPECT_NE(plan.out.find("20261204000000"), std::string::npos) << plan.out;
  EXPECT_NE(plan.out.find("20261204010000"), std::string::npos) << plan.out;
  for (const auto& [path, text] : intact) testing::write_text(path, text);
  // The same plan carried out: the first chain goes, every kept backup stays whole.
  auto p = gv({"prune", "--path", dir_ / "backups", "--keep-last", "6"});
  ASSERT_EQ(p.exit_code, 0) << p.out << p.err;
  EXPECT_FALSE(path_exists(dir_ / "backups/default/group/project.git/20261204000000"));
  EXPECT_FALSE(path_exists(dir_ / "backups/+gitvault/chains/20261204010000.json"));
  EXPECT_TRUE(path_exists(dir_ / "backups/+gitvault/chains/20261204070000.json"));
  auto v = gv({"verify", "--path", dir_ / "backups", "--all"});
  EXPECT_EQ(v.exit_code, 0) << v.out;
  // A kept backup whose chain reaches into a removed one is read: its body must parse.
  const std::string newest = dir_ / "backups/+gitvault/backups/20261204070000.json";
  const std::string text = read_file(newest);
  testing::write_text(newest, text.substr(0, text.find("\"repositories\":[\n") + 17) + "{not json\n]}\n");
  auto refused = gv({"prune", "--path", dir_ / "backups", "--dry-run", "--keep-last", "1"});
  EXPECT_NE(refused.exit_code, 0) << refused.out;
  EXPECT_NE((refused.out + refused.err).find("unreadable"), std::string::npos) << refused.out << refused.err;
}

// On object storage a quiet incremental's requests do not grow with the number of backups:
// it lists the ids of the last days (ListObjectsV2 start-after), not a year of them (a page
// per thousand). 1,100 older records are added between two quiet runs, counted at a proxy.
TEST_F(AnyMoment, AQuietIncrementalOnObjectStorageMakesNoMoreRequestsAfterAThousandMoreBackups) {
  GITVAULT_REQUIRE_S3(url);
  const s3::Url where = s3::parse_url(url);
  testing::FaultProxy proxy(testing::FaultProxy::port_of(where.endpoint.url), 0);
  const std::string via = proxy.s3_url(where.endpoint.bucket, where.prefix);
  long long bytes = 0;
  auto night = [&] {
    const int before = proxy.requests();
    const long long bytes_before = proxy.answered_bytes();
    auto b = gv({"backup", "--incremental", "--storage", "default=" + (dir_ / "storage"), "--path", via});
    EXPECT_EQ(b.exit_code, 0) << b.out << b.err;
    bytes = proxy.answered_bytes() - bytes_before;
    return proxy.requests() - before;
  };
  night();  // full
  night();  // quiet
  const int few = night();
  const long long few_bytes = bytes;
  s3::Client client(where.endpoint, s3::credentials_from_environment());
  const std::string records = where.prefix + "/+gitvault/backups/";
  const s3::Listing listed = client.list(records);
  ASSERT_FALSE(listed.objects.empty());
  const std::string first = listed.objects.front().key;
  const std::string text = client.get(first).value_or("");
  const std::string first_id = first.substr(records.size(), first.size() - records.size() - 5);
  const std::int64_t year_ago = static_cast<std::int64_t>(std::time(nullptr)) - 400 * 86400;
  for (int i = 0; i < 1100; ++i) {
    const std::string id = utc_compact_of(year_ago + i * 900);
    std::string copy = text;
    copy.replace(copy.find("\"id\":\"" + first_id), 6 + first_id.size(), "\"id\":\"" + id);
    client.put(records + id + ".json", copy);
  }
  const int many = night();
  // The same requests, give or take a lease renewal; and what they read did not grow by the
  // listing of 1,100 more ids (about 150 KB of XML).
  EXPECT_LE(many, few + 1) << few << " requests with 3 backups, " << many << " with 1,103";
  EXPECT_LT(bytes, few_bytes + 30000) << few_bytes << " bytes read with 3 backups, " << bytes << " with 1,103";
  auto all = gv({"backups", "--path", url});
  EXPECT_EQ(all.exit_code, 0) << all.err;
  EXPECT_NE(all.out.find(utc_compact_of(year_ago)), std::string::npos);  // every backup is still there for the rest
}

}  // namespace
}  // namespace gitvault
