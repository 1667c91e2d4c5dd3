// Proof over time (docs/proof.md) with the real binaries on real repositories: restore drills
// that find damage a quick verify cannot see, whose samples grow coverage run after run, that
// run beside a backup and never touch a live storage; rotating deep verification that stops
// within its budget, resumes where it stopped, reaches every file within ceil(total/budget)
// runs, finds planted damage within its period and keeps its coverage across prune.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "base/files.h"
#include "tests/support/test_support.h"

namespace gitvault {
namespace {

using nlohmann::json;
using testing::ScratchDir;
using testing::sh;

using testing::fixtures_dir;

class Proof : public ::testing::Test {
 protected:
  void SetUp() override {
    // Repositories in GitLab's hashed layout (the script makes the directory afresh), then
    // the fixture's odd ones beside them.
    if (hashed_ > 0) sh(fixtures_dir() + "/make-hashed-storage.sh " + (dir_ / "storage") + " " + std::to_string(hashed_) + " >/dev/null");
    testing::make_fixture_storage(dir_ / "storage", 20);
  }
  int hashed_ = 0;
  testing::CommandResult gv(std::vector<std::string> args, bool pipeline = true) {
    return testing::gitvault(args, {{"GITVAULT_FLAGS_DB", dir_ / "flags.db"},
                                    {"GITVAULT_FEATURES", std::string("gitaly_backup=") + (pipeline ? "true" : "false")}});
  }
  std::string storage() { return "default=" + (dir_ / "storage"); }
  void backup(const std::string& id, bool incremental = false, bool pipeline = true) {
    std::vector<std::string> args = {"backup", "--storage", storage(), "--path", dir_ / "backups", "--id", id};
    if (incremental) args.push_back("--incremental");
    auto b = gv(args, pipeline);
    ASSERT_EQ(b.exit_code, 0) << b.out << b.err;
  }
  testing::CommandResult drill(std::vector<std::string> extra, bool pipeline = true) {
    std::vector<std::string> args = {"drill", "--storage", storage(), "--path", dir_ / "backups",
                                     "--scratch", dir_ / "scratch", "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    return gv(args, pipeline);
  }
  testing::CommandResult verify(std::vector<std::string> extra) {
    std::vector<std::string> args = {"verify", "--path", dir_ / "backups", "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    return gv(args);
  }
  // The JSON lines of a run's standard output with this event.
  static std::vector<json> events(const std::string& out, const std::string& event) {
    std::vector<json> found;
    std::size_t start = 0;
    while (start < out.size()) {
      std::size_t end = out.find('\n', start);
      if (end == std::string::npos) end = out.size();
      json j = json::parse(out.substr(start, end - start), nullptr, false);
      if (!j.is_discarded() && j.value("event", "") == event) found.push_back(j);
      start = end + 1;
    }
    return found;
  }
  static json summary(const std::string& out) {
    auto s = events(out, "summary");
    return s.empty() ? json::object() : s.back();
  }
  // Every ref and HEAD of every repository of the live storage, and its hooks.
  std::string live_state() {
    return sh("cd " + (dir_ / "storage") +
              " && for r in $(find . -path ./+gitvault -prune -o -name '*.git' -type d -prune -print | sort); do "
              "echo $r; git -c safe.directory='*' --git-dir=$r show-ref --head; ls -la $r/custom_hooks 2>/dev/null; "
              "done; true");
  }
  // Flips one byte in the middle of `path` and makes every record and manifest that names it
  // agree with the damage (its checksum forged), so that only a restore that re-hashes
  // objects can see it.
  void damage_behind_forged_checksum(const std::string& path) {
    std::string old_sha = sh("sha256sum " + path + " | cut -d' ' -f1 | tr -d '\\n'");
    sh("python3 -c \"import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[len(b)//2]^=0xff; "
       "open(p,'wb').write(b)\" " + path);
    std::string new_sha = sh("sha256sum " + path + " | cut -d' ' -f1 | tr -d '\\n'");
    ASSERT_NE(old_sha, new_sha);
    sh("grep -rl " + old_sha + " " + (dir_ / "backups") + " | xargs sed -i 's/" + old_sha + "/" + new_sha + "/g'");
    ASSERT_NE(testing::read_text(dir_ / "backups/+gitvault/backups/" + first_id_ + ".json").find(new_sha),
              std::string::npos);
  }
  std::string bundle_of(const std::string& repo_dir_name) {
    // Legacy layout: <storage>/group/project.bundle; manifest layout: .../group/project.git/<id>/001.bundle.
    std::string out = sh("find " + (dir_ / "backups") + " -regex '.*/" + repo_dir_name +
                         "\\(\\.git\\)?\\(/[^/]*\\)*\\.bundle' | sort | head -1");
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }
  ScratchDir dir_;
  std::string first_id_ = "b1";
};

TEST_F(Proof, DrillFindsDamageBehindAForgedChecksumOnBothEnginesAndTouchesNoLiveStorage) {
  backup("b1", false, /*pipeline=*/false);  // legacy layout: the record alone holds the checksum
  std::string bundle = bundle_of("group/project");
  ASSERT_FALSE(bundle.empty());
  damage_behind_forged_checksum(bundle);
  auto quick = verify({"--id", "b1"});
  ASSERT_EQ(quick.exit_code, 0) << "a quick verify must not see damage behind a matching checksum\n" << quick.out;

  const std::string before = live_state();
  for (bool pipeline : {true, false}) {
    auto d = drill({"--all"}, pipeline);
    EXPECT_EQ(d.exit_code, 1) << d.out << d.err;
    json s = summary(d.out);
    EXPECT_EQ(s.value("failed", 0), 1) << d.out;
    for (const auto& r : events(d.out, "drilled")) {
      if (r["relative_path"] == "group/project.git") {
        EXPECT_EQ(r["status"], "failed") << r.dump();
        EXPECT_NE(r["problems"].dump().find("index-pack"), std::string::npos) << r.dump();
      } else {
        EXPECT_EQ(r["status"], "ok") << r.dump();
      }
    }
    EXPECT_EQ(sh("ls -A " + (dir_ / "scratch")), "") << "the drill's scratch space is removed";
  }
  EXPECT_EQ(live_state(), before) << "a drill touches no live storage";
  // The human report names the repository that did not come back.
  auto human = gv({"drill", "--path", dir_ / "backups", "--scratch", dir_ / "scratch", "--all"});
  EXPECT_EQ(human.exit_code, 1);
  EXPECT_NE(human.out.find("did not come back: default/group/project.git"), std::string::npos) << human.out;
}

class DrillSample : public Proof {
 protected:
  DrillSample() { hashed_ = 8; }
};

TEST_F(DrillSample, SamplesGrowCoverageUntilEveryRepositoryWasDrilledAndTakeTheLargestInRotation) {
  backup("b1");
  auto all = gv({"backups", "--path", dir_ / "backups", "--json"});
  const int total = json::parse(all.out.substr(0, all.out.find('\n')))["repositories"];
  ASSERT_GE(total, 12);
  std::set<std::string> covered;
  int previous = 0, runs = 0;
  const std::string metrics = dir_ / "metrics.prom";
  while (previous < total) {
    ASSERT_LT(runs, 10) << "coverage stopped growing at " << previous << " of " << total;
    auto d = drill({"--sample", "4", "--metrics-file", metrics});
    ASSERT_EQ(d.exit_code, 0) << d.out << d.err;
    ++runs;
    auto drilled = events(d.out, "drilled");
    ASSERT_EQ(drilled.size(), 4u);
    std::size_t largest = 0, random = 0;
    for (const auto& r : drilled) {
      largest += r["why"] == "largest in rotation";
      random += r["why"] == "random";
      covered.insert(r["relative_path"].get<std::string>());
    }
    // A repository never drilled before is taken before any random one.
    if (random > 0) {
      EXPECT_EQ(static_cast<int>(covered.size()), total) << d.out;
    }
    EXPECT_EQ(largest, 1u) << d.out;  // the largest tenth, least recently drilled first
    int now = summary(d.out)["drilled_ever"];
    EXPECT_EQ(now, static_cast<int>(covered.size()));
    EXPECT_GT(now, previous) << "each drill adds repositories never drilled while some are left";
    previous = now;
  }
  // Three new ones per run (one slot is the largest, in rotation) beside the first run's four.
  EXPECT_LE(runs, 1 + static_cast<int>(std::ceil((total - 4) / 3.0)));
  std::string prom = testing::read_text(metrics);
  EXPECT_NE(prom.find("gitvault_drill_last_success_timestamp_seconds"), std::string::npos) << prom;
  EXPECT_NE(prom.find("gitvault_drill_coverage_ratio 1"), std::string::npos) << prom;
  EXPECT_NE(prom.find("gitvault_drill_estimated_full_restore_seconds"), std::string::npos) << prom;
}

TEST_F(Proof, DrillRefusesAScratchDirectoryInsideOrAroundAStorage) {
  backup("b1");
  for (std::string scratch : {dir_ / "storage/tmp-drill", dir_.path()}) {
    auto d = gv({"drill", "--storage", storage(), "--path", dir_ / "backups", "--scratch", scratch, "--all"});
    EXPECT_EQ(d.exit_code, 2) << d.out << d.err;
    EXPECT_NE(d.err.find("overlaps storage default"), std::string::npos) << d.err;
  }
  EXPECT_FALSE(path_exists(dir_ / "storage/tmp-drill/drill-b1")) << "nothing made inside the storage";
}

TEST_F(Proof, DrillRunsBesideABackupAndPruneWaitsForIt) {
  backup("b1");
  // A backup holds the directory's lock exclusive for as long as it runs: the drill still runs.
  const std::string lock = dir_ / "backups/+gitvault/lock";
  std::thread holder([&] { sh("flock -x " + lock + " sleep 4"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto d = drill({"--all"});
  EXPECT_EQ(d.exit_code, 0) << d.out << d.err;
  auto blocked = gv({"backups", "--path", dir_ / "backups"});
  EXPECT_EQ(blocked.exit_code, 2) << "the directory lock really was held\n" << blocked.out;
  holder.join();
  // A real backup and a drill at once: both succeed.
  for (int i = 0; i < 30; ++i)
    sh("git -c safe.directory='*' clone -q --bare " + (dir_ / "storage/group/project.git") + " " +
       (dir_ / ("storage/more/p" + std::to_string(i) + ".git")));
  testing::CommandResult night;
  std::thread b([&] {
    night = gv({"backup", "--storage", storage(), "--path", dir_ / "backups", "--id", "b2", "--incremental"});
  });
  auto beside = drill({"--sample", "3"});
  b.join();
  EXPECT_EQ(night.exit_code, 0) << night.out << night.err;
  EXPECT_EQ(beside.exit_code, 0) << beside.out << beside.err;
  // While a drill reads, prune (which removes what it reads) is kept out.
  std::thread pin([&] { sh("flock -s " + (dir_ / "backups/+gitvault/pins/lock") + " sleep 3"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto prune = gv({"prune", "--path", dir_ / "backups", "--keep-last", "1"});
  EXPECT_EQ(prune.exit_code, 2) << prune.out << prune.err;
  EXPECT_NE(prune.err.find("pins"), std::string::npos) << prune.err;
  pin.join();
  EXPECT_EQ(gv({"prune", "--path", dir_ / "backups", "--keep-last", "1"}).exit_code, 0);
}

// The same on object storage (a real Ceph RADOS Gateway): a drill on both engines, a
// rotation whose proofs the bucket keeps, and a drill that finds damage behind a forged
// checksum there too.
TEST_F(Proof, DrillAndRotationWorkOnObjectStorage) {
  GITVAULT_REQUIRE_S3(url);
  auto b = gv({"backup", "--storage", storage(), "--path", url, "--id", "s1"});
  ASSERT_EQ(b.exit_code, 0) << b.out << b.err;
  for (bool pipeline : {true, false}) {
    auto d = gv({"drill", "--path", url, "--scratch", dir_ / "scratch", "--all", "--json"}, pipeline);
    EXPECT_EQ(d.exit_code, 0) << d.out << d.err;
    EXPECT_EQ(summary(d.out).value("failed", -1), 0) << d.out;
    EXPECT_EQ(summary(d.out).value("drilled_ever", 0), summary(d.out).value("candidates", -1)) << d.out;
  }
  // Half the bytes per run; the project's chain is more than half of them and goes alone, so
  // three runs at most — and none would ever finish a cycle if the bucket forgot the last.
  bool completed = false;
  for (int run = 0; run < 3 && !completed; ++run) {
    auto r = gv({"verify", "--path", url, "--subset", "1/2", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    completed = summary(r.out)["rotation"]["cycle_completed"];
  }
  EXPECT_TRUE(completed) << "the bucket kept where the rotation stopped";
  auto list = gv({"backups", "--path", url, "--json"});
  EXPECT_NE(list.out.find("\"last_fully_proven\":\"20"), std::string::npos) << list.out;
}

// Three nights, so that chains share files across backups.
class Rotation : public Proof {
 protected:
  Rotation() { hashed_ = 24; }  // units small beside the budgets below
  void SetUp() override {
    Proof::SetUp();
    backup("n1");
    sh("git -c safe.directory='*' --git-dir=" + (dir_ / "storage/group/project.git") + " update-ref refs/heads/n2 HEAD~1");
    backup("n2", true);
    sh("git -c safe.directory='*' --git-dir=" + (dir_ / "storage/group/detached.git") + " update-ref refs/heads/n3 HEAD");
    backup("n3", true);
  }
  json rotation_of(const testing::CommandResult& r) { return summary(r.out)["rotation"]; }
};

TEST_F(Rotation, ABudgetStopsWithinATenthAndResumesUntilEveryFileIsReachedInCeilTotalOverBudgetRuns) {
  auto first = verify({"--subset", "1/4"});
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  const std::uint64_t total = rotation_of(first)["total_bytes"];
  const std::uint64_t budget = total / 3;
  std::uint64_t proven = rotation_of(first)["proven_in_cycle_bytes"];
  int runs = 0;
  bool completed = false;
  // A fresh cycle's runs with a byte budget: within ceil(total/budget) runs every file.
  auto restart = rotation_of(first)["cycle_completed"].get<bool>();
  while (!restart) {  // finish the cycle the subset started
    auto r = verify({"--subset", "1/4"});
    ASSERT_EQ(r.exit_code, 0) << r.out;
    restart = rotation_of(r)["cycle_completed"];
  }
  proven = 0;
  const std::string metrics = dir_ / "metrics.prom";
  while (!completed) {
    ASSERT_LT(runs, 10);
    auto r = verify({"--budget", std::to_string(budget), "--metrics-file", metrics});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    ++runs;
    json rot = rotation_of(r);
    std::uint64_t this_run = rot["proven_this_run_bytes"];
    EXPECT_LE(this_run, budget + budget / 10) << "run " << runs << ": " << r.out;
    EXPECT_GT(this_run, 0u);
    EXPECT_EQ(static_cast<std::uint64_t>(rot["proven_in_cycle_bytes"]), proven + this_run)
        << "a run resumes where the last one stopped";
    proven += this_run;
    completed = rot["cycle_completed"];
  }
  EXPECT_EQ(proven, total) << "every file of every kept backup, each once in the cycle";
  EXPECT_LE(runs, static_cast<int>(std::ceil(static_cast<double>(total) / static_cast<double>(budget))));
  // Every backup now says when it was last fully proven, in verify and in backups.
  auto list = gv({"backups", "--path", dir_ / "backups", "--json"});
  std::size_t lines = 0;
  for (std::size_t at = 0; (at = list.out.find("\"last_fully_proven\":\"", at)) != std::string::npos; ++at) ++lines;
  EXPECT_EQ(lines, 3u) << list.out;
  std::string prom = testing::read_text(metrics);
  EXPECT_NE(prom.find("gitvault_verify_oldest_unproven_seconds"), std::string::npos) << prom;
}

TEST_F(Rotation, DamageBehindAForgedChecksumIsFoundWithinThePeriod) {
  std::string bundle = bundle_of("group/project");
  ASSERT_FALSE(bundle.empty());
  first_id_ = "n1";
  damage_behind_forged_checksum(bundle);
  ASSERT_EQ(verify({"--all"}).exit_code, 0) << "a quick verify cannot see it";
  bool found = false;
  for (int run = 0; run < 3 && !found; ++run) {  // the period of --subset 1/3
    auto r = verify({"--subset", "1/3"});
    if (r.exit_code == 1) {
      found = true;
      EXPECT_NE(r.out.find("group/project.git"), std::string::npos) << r.out;
    }
  }
  EXPECT_TRUE(found) << "the rotation reaches every file within its period";
}

TEST_F(Rotation, CoverageHoldsAcrossPrune) {
  auto r1 = verify({"--subset", "1/2"});
  ASSERT_EQ(r1.exit_code, 0) << r1.out;
  auto prune = gv({"prune", "--path", dir_ / "backups", "--keep-last", "1"});
  ASSERT_EQ(prune.exit_code, 0) << prune.out << prune.err;
  // What is left is what n3 needs; the rotation goes on over it, and finishes the cycle.
  bool completed = false;
  std::uint64_t total = 0;
  for (int run = 0; run < 2 && !completed; ++run) {
    auto r = verify({"--subset", "1/2"});
    ASSERT_EQ(r.exit_code, 0) << r.out;
    completed = rotation_of(r)["cycle_completed"];
    total = rotation_of(r)["total_bytes"];
    EXPECT_EQ(rotation_of(r)["backup_last_fully_proven"].size(), 1u) << r.out;
  }
  EXPECT_TRUE(completed);
  // The proofs kept name only files a kept backup needs.
  json state = json::parse(testing::read_text(dir_ / "backups/+gitvault/proof/proven.json"));
  std::uint64_t named = 0;
  for (const auto& f : state["files"]) {
    EXPECT_TRUE(path_exists(dir_ / ("backups/" + f[0].get<std::string>()))) << f.dump();
    named += 1;
  }
  EXPECT_GT(named, 0u);
  EXPECT_GT(total, 0u);
}

}  // namespace
}  // namespace gitvault
