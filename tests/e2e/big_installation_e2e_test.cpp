// Big installations and bad nights, with the real binaries on repositories made by git in
// GitLab's hashed layout (tests/fixtures/make-hashed-storage.sh): the worker's descriptors
// stay bounded by its parallelism, not the number of repositories; a night after a partial
// backup is incremental for every repository that was backed up; a backup restarted in the
// same second as a killed one runs.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "base/encoding.h"
#include "base/files.h"
#include "s3/client.h"
#include "tests/support/fault_proxy.h"
#include "tests/support/test_support.h"

namespace gitvault {
namespace {

using nlohmann::json;
using testing::ScratchDir;
using testing::sh;

using testing::fixtures_dir;

void make_hashed_storage(const std::string& dir, int n, int distinct) {
  sh(fixtures_dir() + "/make-hashed-storage.sh " + dir + " " + std::to_string(n) + " " + std::to_string(distinct));
}

// The relative paths of a hashed storage's repositories, sorted.
std::vector<std::string> repositories_of(const std::string& storage) {
  std::string out = sh("cd " + storage + " && find @hashed -name '*.git' -type d -prune | sort");
  std::vector<std::string> paths;
  for (std::size_t start = 0; start < out.size();) {
    std::size_t nl = out.find('\n', start);
    paths.push_back(out.substr(start, nl - start));
    start = nl == std::string::npos ? out.size() : nl + 1;
  }
  return paths;
}

json record_of(const std::string& backups, const std::string& id) {
  return parse_json_text(read_file(backups + "/+gitvault/backups/" + id + ".json"));
}

json entry_of(const json& record, const std::string& rel) {
  for (const auto& r : record["repositories"])
    if (r["relative_path"] == rel) return r;
  ADD_FAILURE() << rel << " not in " << record["id"];
  return {};
}

std::map<std::string, int> kinds_of(const json& record) {
  std::map<std::string, int> kinds;
  for (const auto& r : record["repositories"])
    if (r["status"] == "ok") ++kinds[r["kind"].get<std::string>()];
  return kinds;
}

std::string refs_of_all(const std::string& storage) {
  return sh("cd " + storage + " && for r in $(find @hashed -name '*.git' -type d -prune | sort); do echo $r; "
            "git --git-dir=$r show-ref --head; done");
}

// A ref that names an object the repository does not have: git cannot pack it, the backup of
// that repository fails (and the others go on).
void break_repository(const std::string& repo) {
  sh("echo '" + std::string(40, 'e') + " refs/heads/ghost' >> " + repo + "/packed-refs");
}
void mend_repository(const std::string& repo) { sh("sed -i '/refs\\/heads\\/ghost/d' " + repo + "/packed-refs"); }
// A new commit on main, made in the bare repository.
void push_commit(const std::string& repo, const std::string& message) {
  sh("export GIT_AUTHOR_NAME=T GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=T GIT_COMMITTER_EMAIL=t@example.com; "
     "c=$(git --git-dir=" + repo + " commit-tree -p main -m '" + message + "' main^{tree}) && "
     "git --git-dir=" + repo + " update-ref refs/heads/main $c");
}

class BigInstallation : public ::testing::Test {
 protected:
  testing::CommandResult gv(std::vector<std::string> args) {
    return testing::gitvault(args, {{"GITVAULT_FEATURES", "gitaly_backup=true"},
                                    {"GITVAULT_FLAGS_DB", dir_ / "flags.db"}});
  }
  std::string storage_arg() const { return "default=" + (dir_ / "storage"); }
  ScratchDir dir_;
};

// The worker held a directory descriptor for every repository's manifest directory until its
// end: 1,006 descriptors after 1,000 repositories, `Too many open files` past the limit.
TEST_F(BigInstallation, FiveThousandRepositoriesUnderAThousandDescriptorsAllBackedUpDescriptorsBounded) {
  make_hashed_storage(dir_ / "storage", 5000, 50);
  // gitvault runs with a soft limit of 1,024 descriptors (systemd's default); the worker, its
  // child, inherits it. While it runs, the worker's open descriptors are counted every 20 ms.
  std::string out = sh(
      "cd " + dir_.path() + " && (ulimit -n 1024; GITVAULT_FEATURES=gitaly_backup=true GITVAULT_FLAGS_DB=" +
      (dir_ / "flags.db") + " exec " + testing::gitvault_binary() + " backup --storage " + storage_arg() +
      " --path " + (dir_ / "backups") + " --id big --json > out.json 2> err.txt) & pid=$!; max=0; samples=0; "
      "while kill -0 $pid 2>/dev/null; do for w in $(pgrep -P $pid -x gitaly-backup); do "
      "n=$(ls /proc/$w/fd 2>/dev/null | wc -l); samples=$((samples+1)); [ $n -gt $max ] && max=$n; done; sleep 0.02; "
      "done; wait $pid; echo \"rc=$? max=$max samples=$samples\"");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(out, m, std::regex("rc=(\\d+) max=(\\d+) samples=(\\d+)"))) << out;
  EXPECT_EQ(m[1], "0") << out << read_file(dir_ / "err.txt");
  EXPECT_GT(std::stoi(m[3]), 5) << "the worker was hardly ever seen running";
  // stdio, the job and log pipes, the destination, a few repositories in flight (2 cores):
  // tens, not thousands.
  EXPECT_LT(std::stoi(m[2]), 64) << "peak descriptors of the worker: " << m[2];
  json rec = record_of(dir_ / "backups", "big");
  EXPECT_EQ(rec["status"], "complete");
  ASSERT_EQ(rec["repositories"].size(), 5000u);
  std::size_t ok = 0;
  for (const auto& r : rec["repositories"]) ok += r["status"] == "ok";
  EXPECT_EQ(ok, 5000u);
}

// An incremental built only on the newest complete backup: after a backup in which one
// repository failed, every night was a full backup of everything.
TEST_F(BigInstallation, NightsAfterAPartialBackupStayIncrementalAndRestoreAcrossIt) {
  make_hashed_storage(dir_ / "storage", 30, 10);
  const std::vector<std::string> repos = repositories_of(dir_ / "storage");
  ASSERT_EQ(repos.size(), 30u);
  auto repo = [&](int i) { return dir_ / ("storage/" + repos[i]); };
  const std::string backups = dir_ / "backups";
  auto night = [&](const std::string& id, int expected_exit) {
    auto b = gv({"backup", "--incremental", "--storage", storage_arg(), "--path", backups, "--id", id});
    EXPECT_EQ(b.exit_code, expected_exit) << id << "\n" << b.out << b.err;
    return b;
  };

  break_repository(repo(0));
  night("n1", 1);  // the first backup: full, repository 0 failed
  EXPECT_EQ(record_of(backups, "n1")["status"], "partial");

  mend_repository(repo(0));
  push_commit(repo(1), "night two");
  auto n2 = night("n2", 0);
  EXPECT_NE(n2.out.find("no complete backup"), 0u);
  json rec2 = record_of(backups, "n2");
  EXPECT_EQ(rec2["status"], "complete");
  EXPECT_EQ(kinds_of(rec2), (std::map<std::string, int>{{"full", 1}, {"incremental", 1}, {"unchanged", 28}}));
  EXPECT_EQ(entry_of(rec2, repos[0])["kind"], "full");         // failed in n1: a new chain
  EXPECT_EQ(entry_of(rec2, repos[1])["kind"], "incremental");  // built on n1, a partial backup
  EXPECT_EQ(testing::chain_steps_of(backups, entry_of(rec2, repos[1]))[0]["backup_id"], "n1");

  // n3 is partial again; n4 builds on n3 for the repositories n3 backed up, and on n2, the
  // newest complete backup, for the one n3 did not.
  break_repository(repo(2));
  push_commit(repo(3), "night three");
  night("n3", 1);
  mend_repository(repo(2));
  push_commit(repo(2), "night four, the mended one");
  push_commit(repo(3), "night four");
  const std::string state4 = refs_of_all(dir_ / "storage");
  night("n4", 0);
  json rec4 = record_of(backups, "n4");
  EXPECT_EQ(rec4["status"], "complete");
  EXPECT_EQ(kinds_of(rec4), (std::map<std::string, int>{{"incremental", 2}, {"unchanged", 28}}));
  json two = entry_of(rec4, repos[2]);
  EXPECT_EQ(two["kind"], "incremental");
  ASSERT_EQ(testing::chain_steps_of(backups, two).size(), 1u);
  EXPECT_EQ(testing::chain_steps_of(backups, two)[0]["backup_id"], "n1");  // n2 recorded n1's step unchanged
  json three = entry_of(rec4, repos[3]);
  EXPECT_EQ(testing::chain_steps_of(backups, three).back()["backup_id"], "n3");

  // Restore and verify follow the chains through the partial backups; prune keeps what n4
  // needs of them.
  auto v = gv({"verify", "--path", backups, "--id", "n4", "--deep"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  auto p = gv({"prune", "--path", backups, "--keep-last", "1"});
  EXPECT_EQ(p.exit_code, 0) << p.out << p.err;
  EXPECT_FALSE(path_exists(backups + "/+gitvault/backups/n3.json"));
  // n3's chain file goes with it: n4 names its own (n4's steps) and n1's step as n2 recorded it.
  EXPECT_FALSE(path_exists(backups + "/+gitvault/chains/n3.json"));
  EXPECT_TRUE(path_exists(backups + "/+gitvault/chains/n4.json"));
  EXPECT_FALSE(path_exists(backups + "/+gitvault/backups/n2.json"));
  EXPECT_TRUE(path_exists(backups + "/+gitvault/chains/n2.json"));  // n4 names repos[1]'s step of n2 unchanged
  auto r = gv({"restore", "--storage", "default=" + (dir_ / "restored"), "--path", backups, "--id", "n4"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(refs_of_all(dir_ / "restored"), state4);
  EXPECT_EQ(testing::sh_status("git --git-dir=" + (dir_ / ("restored/" + repos[2])) + " fsck --no-progress"), 0);
}

// `Restart=on-failure` starts the next run within the second the killed one started in: the
// default id (UTC seconds) then belonged to the dead run and the new run exited 2.
TEST_F(BigInstallation, ABackupRestartedInTheSecondOfAKilledOneRuns) {
  make_hashed_storage(dir_ / "storage", 5, 5);
  sh("printf '#!/bin/sh\\nsleep 30\\nexec git \"$@\"\\n' > " + (dir_ / "slow-git") + " && chmod +x " + (dir_ / "slow-git"));
  const std::string backup = "env GITVAULT_FEATURES=gitaly_backup=false GITVAULT_FLAGS_DB=" + (dir_ / "flags.db") + " " +
                             testing::gitvault_binary() + " backup --storage " + storage_arg() + " --path " +
                             (dir_ / "backups");
  // Started early in a second, killed as soon as its record exists, restarted at once: both
  // runs start within the same second.
  std::string out = sh("cd " + dir_.path() + " && while [ $(date +%N | cut -c1) -ge 2 ]; do sleep 0.01; done; "
                       "(GITVAULT_GIT=" + (dir_ / "slow-git") + " exec " + backup + " > killed.txt 2>&1) & pid=$!; "
                       "for i in $(seq 1 5000); do ls backups/+gitvault/backups/*.json >/dev/null 2>&1 && break; "
                       "sleep 0.002; done; kill -KILL $pid; wait $pid 2>/dev/null; " + backup +
                       " > next.txt 2>&1; echo rc=$?; ls backups/+gitvault/backups");
  EXPECT_NE(out.find("rc=0"), std::string::npos) << out << read_file(dir_ / "next.txt");
  std::string listing = out.substr(out.find("rc=0") + 4);
  const std::regex id_file("(\\d{14})\\.json");
  std::vector<std::string> ids;
  for (std::sregex_iterator it(listing.begin(), listing.end(), id_file), end; it != end; ++it)
    ids.push_back((*it)[1]);
  ASSERT_EQ(ids.size(), 2u) << out;
  EXPECT_EQ(record_of(dir_ / "backups", ids[0])["status"], "running");  // the dead run's, as it left it
  EXPECT_EQ(record_of(dir_ / "backups", ids[1])["status"], "complete");
  EXPECT_LT(ids[0], ids[1]);
}

// `backups` reads each record's header, whose summary says what its repositories add up to:
// with three backups of 20,000 repositories it had parsed every repository of every record
// (5 s, 250 MiB). Shown by a record whose repository lines are damaged after the header:
// `backups` still lists it from its header; verify, which reads it whole, refuses it.
TEST_F(BigInstallation, BackupsReadsOnlyEachRecordsHeader) {
  make_hashed_storage(dir_ / "storage", 30, 10);
  ASSERT_EQ(gv({"backup", "--storage", storage_arg(), "--path", dir_ / "backups", "--id", "h1"}).exit_code, 0);
  const std::string record = dir_ / "backups/+gitvault/backups/h1.json";
  json header = parse_json_text(sh("head -1 " + record + " | sed 's/,\"repositories\":\\[$/}/'"));
  EXPECT_EQ(header["summary"]["repositories"], 30);
  EXPECT_EQ(header["summary"]["full"], 30);
  EXPECT_EQ(header["summary"]["failed"], 0);
  auto before = gv({"backups", "--path", dir_ / "backups", "--json"});
  ASSERT_EQ(before.exit_code, 0) << before.err;
  sh("sed -i '5s/.*/{\"damaged\": true,/' " + record);
  auto after = gv({"backups", "--path", dir_ / "backups", "--json"});
  EXPECT_EQ(after.exit_code, 0) << after.err;
  EXPECT_EQ(after.out, before.out);
  auto v = gv({"verify", "--path", dir_ / "backups", "--id", "h1"});
  EXPECT_NE(v.exit_code, 0) << v.out;
}

// The gateway stops answering in the middle of a pipeline backup to object storage (a proxy
// that holds every request from then on). Each remaining repository used to retry on its own
// (6 attempts, 3-4 s each): 10,000 repositories, nine hours of failures. Now the run notices
// that the destination as a whole stopped answering (dead_after, across requests), marks the
// rest not attempted, says so in one line and ends; no complete record is left.
TEST_F(BigInstallation, ADestinationThatStopsAnsweringEndsTheRunAtOnce) {
  GITVAULT_REQUIRE_S3(url);
  make_hashed_storage(dir_ / "storage", 300, 30);
  const s3::Url where = s3::parse_url(url);
  testing::FaultProxy proxy(testing::FaultProxy::port_of(where.endpoint.url), 0);
  const std::string via = proxy.s3_url(where.endpoint.bucket, where.prefix, "&dead_after=5&request_timeout=2");
  proxy.stall_after(400);  // a few hundred requests in: mid-run
  const auto t0 = std::chrono::steady_clock::now();
  auto b = gv({"backup", "--storage", storage_arg(), "--path", via + "&lease_seconds=3", "--id", "dead"});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  proxy.stall(false);
  EXPECT_NE(b.exit_code, 0) << b.out << b.err;
  EXPECT_LT(seconds, 40) << "the run went on for " << seconds << " s after the destination stopped answering";
  const std::string all = b.out + b.err;
  EXPECT_NE(all.find("stopped answering at 20"), std::string::npos) << all;
  EXPECT_NE(all.find("repositories not attempted"), std::string::npos) << all;
  EXPECT_NE(b.out.find("not attempted: "), std::string::npos) << b.out;
  // One line for the stop, not a failure line per repository.
  std::size_t failure_lines = 0;
  for (std::size_t at = b.out.find("\n - "); at != std::string::npos; at = b.out.find("\n - ", at + 1)) ++failure_lines;
  EXPECT_LT(failure_lines, 20u) << b.out;
  auto listed = gv({"backups", "--path", url, "--json"});
  EXPECT_EQ(listed.out.find("\"status\":\"complete\""), std::string::npos) << listed.out;

  // A gateway that comes back within dead_after: the run finishes, complete. (The stopped
  // run could not release its 3 s lease: it expires first.)
  std::this_thread::sleep_for(std::chrono::seconds(4));
  const int base = proxy.requests();
  proxy.stall_after(300);
  std::thread back([&] {
    for (int i = 0; i < 400 && proxy.requests() < base + 300; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::this_thread::sleep_for(std::chrono::seconds(2));
    proxy.stall(false);
  });
  auto again = gv({"backup", "--storage", storage_arg(), "--path", via + "&lease_seconds=60", "--id", "back"});
  back.join();
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_NE(again.out.find("back: complete"), std::string::npos) << again.out;
}

}  // namespace
}  // namespace gitvault
