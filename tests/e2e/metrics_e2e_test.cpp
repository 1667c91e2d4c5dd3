// The metrics file monitoring reads: every command records its run in one Prometheus
// textfile-collector file, read back here with Prometheus's own text parser (Debian's
// python3-prometheus-client), never by string matching alone.
#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include "tests/support/test_support.h"

namespace gitvault {
namespace {

using testing::ScratchDir;
using testing::sh;

class Metrics : public ::testing::Test {
 protected:
  void SetUp() override { testing::make_fixture_storage(dir_ / "storage", 20); }
  testing::CommandResult gv(std::vector<std::string> args) {
    args.push_back("--metrics-file");
    args.push_back(metrics_);
    return testing::gitvault(args, {{"GITVAULT_FLAGS_DB", dir_ / "flags/flags.db"}});
  }
  // Every sample of the file as parsed by prometheus_client: "name{labels}" -> value. The
  // parser raises (and this test fails) on anything the exposition format does not allow.
  std::map<std::string, double> scrape() {
    const std::string script =
        "import sys\n"
        "from prometheus_client.parser import text_string_to_metric_families\n"
        "for f in text_string_to_metric_families(open(sys.argv[1]).read()):\n"
        "    for s in f.samples:\n"
        "        labels = ','.join('%s=%s' % kv for kv in sorted(s.labels.items()))\n"
        "        print('%s{%s} %r' % (s.name, labels, s.value))\n";
    testing::write_text(dir_ / "scrape.py", script);
    std::istringstream in(sh("/usr/bin/python3 " + (dir_ / "scrape.py") + " " + metrics_));
    std::map<std::string, double> out;
    for (std::string line; std::getline(in, line);) {
      auto space = line.rfind(' ');
      out[line.substr(0, space)] = std::stod(line.substr(space + 1));
    }
    return out;
  }
  ScratchDir dir_;
  std::string metrics_ = dir_ / "textfile/gitvault.prom";
};

TEST_F(Metrics, EveryCommandRecordsItsRunAndTheLastSuccessSurvivesAFailure) {
  sh("mkdir -p " + (dir_ / "textfile"));
  const std::string storage = "default=" + (dir_ / "storage"), backups = dir_ / "backups";
  auto b = gv({"backup", "--storage", storage, "--path", backups, "--id", "b1"});
  ASSERT_EQ(b.exit_code, 0) << b.out << b.err;
  auto m = scrape();
  ASSERT_TRUE(m.count("gitvault_backup_last_success_timestamp_seconds{}")) << testing::read_text(metrics_);
  const double first_success = m["gitvault_backup_last_success_timestamp_seconds{}"];
  EXPECT_GT(first_success, 1.7e9);
  EXPECT_EQ(m["gitvault_backup_last_exit_code{}"], 0);
  EXPECT_EQ(m["gitvault_backup_repositories{status=ok}"] + m["gitvault_backup_repositories{status=empty}"], 6);
  EXPECT_EQ(m["gitvault_backup_repositories{status=failed}"], 0);
  EXPECT_EQ(m["gitvault_backup_repositories_by_path{path=pipeline}"], 6);
  EXPECT_EQ(m["gitvault_backup_repositories_by_path{path=legacy}"], 0);
  EXPECT_GT(m["gitvault_backup_bytes_written{}"], 1000);
  EXPECT_EQ(m["gitvault_feature_enabled{name=gitaly_backup}"], 1);
  EXPECT_EQ(m["gitvault_feature_default_enabled{name=gitaly_backup}"], 1);

  // A backup that cannot start (its id exists): the run is recorded, the success is not.
  auto again = gv({"backup", "--storage", storage, "--path", backups, "--id", "b1"});
  ASSERT_EQ(again.exit_code, 2) << again.err;
  m = scrape();
  EXPECT_EQ(m["gitvault_backup_last_exit_code{}"], 2);
  EXPECT_EQ(m["gitvault_backup_last_success_timestamp_seconds{}"], first_success);
  EXPECT_GE(m["gitvault_backup_last_run_timestamp_seconds{}"], first_success);

  // Verify and restore add their own families; the backup's stay.
  auto v = gv({"verify", "--path", backups});
  ASSERT_EQ(v.exit_code, 0) << v.out << v.err;
  auto r = gv({"restore", "--storage", "default=" + (dir_ / "restored"), "--path", backups});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto l = gv({"backups", "--path", backups});
  ASSERT_EQ(l.exit_code, 0) << l.out << l.err;
  m = scrape();
  EXPECT_EQ(m["gitvault_verify_problems{}"], 0);
  EXPECT_EQ(m["gitvault_verify_last_exit_code{}"], 0);
  EXPECT_EQ(m["gitvault_restore_repositories{status=restored}"], 6);
  EXPECT_EQ(m["gitvault_restore_repositories{status=failed}"], 0);
  EXPECT_EQ(m["gitvault_backups{status=complete}"], 1);
  EXPECT_GT(m["gitvault_backups_newest_complete_timestamp_seconds{}"], 1.7e9);
  EXPECT_EQ(m["gitvault_backup_last_success_timestamp_seconds{}"], first_success);

  // A flipped byte: verify reports problems and fails; its last success stays.
  const double verify_success = m["gitvault_verify_last_success_timestamp_seconds{}"];
  sh("f=$(find " + backups + " -name '*.bundle' | head -1); printf 'X' | dd of=$f bs=1 seek=40 conv=notrunc 2>/dev/null");
  auto bad = gv({"verify", "--path", backups});
  EXPECT_EQ(bad.exit_code, 1) << bad.out;
  m = scrape();
  EXPECT_GE(m["gitvault_verify_problems{}"], 1);
  const double bad_problems = m["gitvault_verify_problems{}"];
  EXPECT_EQ(m["gitvault_verify_last_exit_code{}"], 1);
  EXPECT_EQ(m["gitvault_verify_last_success_timestamp_seconds{}"], verify_success);
  // An emergency opt-out shows at once, before the next backup runs.
  auto off = gv({"feature", "set", "gitaly_backup", "false"});
  ASSERT_EQ(off.exit_code, 0) << off.out << off.err;
  m = scrape();
  EXPECT_EQ(m["gitvault_feature_enabled{name=gitaly_backup}"], 0);
  EXPECT_EQ(m["gitvault_feature_default_enabled{name=gitaly_backup}"], 1);
  EXPECT_EQ(m["gitvault_verify_problems{}"], bad_problems);  // the others' families stay
  // Readable by node_exporter, and no temporary file left beside it.
  EXPECT_EQ(sh("stat -c %a " + metrics_), "644\n");
  EXPECT_EQ(sh("ls " + (dir_ / "textfile") + " | grep -v -e '^gitvault.prom$' -e '^gitvault.prom.lock$' || true"), "");
}

// --json on a long run: a status line every second on stderr whatever the repositories do,
// each a JSON object of schema 1 with a count that never goes back.
// node_exporter's textfile directory may not exist yet on a fresh machine: the first run
// makes it (it used to warn and write nothing).
TEST_F(Metrics, AMissingTextfileDirectoryIsCreated) {
  metrics_ = dir_ / "fresh/textfile/gitvault.prom";
  auto b = gv({"backup", "--storage", "default=" + (dir_ / "storage"), "--path", dir_ / "backups", "--id", "m1"});
  ASSERT_EQ(b.exit_code, 0) << b.out << b.err;
  EXPECT_EQ(b.err.find("metrics"), std::string::npos) << b.err;
  auto m = scrape();
  EXPECT_EQ(m["gitvault_backup_last_exit_code{}"], 0) << testing::read_text(metrics_);
  EXPECT_EQ(sh("stat -c %a " + (dir_ / "fresh/textfile")), "755\n");
}

TEST_F(Metrics, JsonProgressGivesAStatusLineEverySecondOnALongRun) {
  testing::write_text(dir_ / "slow-git", "#!/bin/sh\ncase \"$*\" in *pack-objects*) sleep 0.6;; esac\nexec git \"$@\"\n");
  sh("chmod +x " + (dir_ / "slow-git"));
  auto b = testing::gitvault({"backup", "--storage", "default=" + (dir_ / "storage"), "--path", dir_ / "backups", "--json"},
                             {{"GITVAULT_FLAGS_DB", dir_ / "flags/flags.db"}, {"GITVAULT_GIT", dir_ / "slow-git"},
                              {"GITVAULT_FEATURES", "gitaly_backup=false"}});  // one at a time: about 3 s
  ASSERT_EQ(b.exit_code, 0) << b.err;
  std::istringstream err(b.err);
  int statuses = 0;
  double last_done = -1;
  for (std::string line; std::getline(err, line);) {
    if (line.find("\"event\":\"status\"") == std::string::npos) continue;
    ++statuses;
    EXPECT_NE(line.find("\"schema\":1"), std::string::npos) << line;
    EXPECT_NE(line.find("\"verb\":\"backup\""), std::string::npos) << line;
    auto at = line.find("\"done\":");
    double done = std::stod(line.substr(at + 7));
    EXPECT_GE(done, last_done) << line;
    last_done = done;
  }
  EXPECT_GE(statuses, 2) << b.err;
  EXPECT_NE(b.out.find("\"schema\":1"), std::string::npos) << b.out;  // the summary too
}

}  // namespace
}  // namespace gitvault
