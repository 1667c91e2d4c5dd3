#include "run/backup_run.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <optional>

#include "backup/layout.h"
#include "backup/catalog.h"
#include "backup/record.h"
#include "base/error.h"
#include "base/files.h"
#include "tests/destination/faulty_sink.h"
#include "tests/support/test_support.h"

namespace gitvault {
namespace {

using testing::ScratchDir;

class BackupRun : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv("GITVAULT_FEATURES", "gitaly_backup=false", 1);  // the legacy path
    testing::make_fixture_storage(dir_ / "storage", 300);
    opts_.storages = {{"default", dir_ / "storage"}};
    opts_.id = "b1";
  }
  // The failures a run returns (ui/report.h prints them), one line each.
  static std::string failures(const BackupRunResult& r) {
    std::string out;
    for (const auto& f : r.failures) out += f.storage + " " + f.relative_path + ": " + f.reason + "\n";
    return out;
  }
  const RepositoryRecord& repo(const BackupRecord& r, const std::string& rel) {
    for (const auto& x : r.repositories)
      if (x.relative_path == rel) return x;
    throw std::runtime_error("no " + rel);
  }
  ScratchDir dir_;
  BackupRunOptions opts_;
};

TEST_F(BackupRun, RecordsEveryFileWithItsSha256AndSize) {
  LocalSink sink(dir_ / "backups");
  BackupRunResult r = run_backup(opts_, sink);
  EXPECT_EQ(r.exit_code, 0);
  BackupRecord rec = read_record(sink, "b1");
  EXPECT_EQ(rec.status, BackupStatus::Complete);
  EXPECT_EQ(rec.repositories.size(), 6u);
  const RepositoryRecord& p = repo(rec, "group/project.git");
  EXPECT_EQ(p.engine, Engine::Legacy);
  EXPECT_EQ(p.layout, Layout::Legacy);
  EXPECT_EQ(p.project_path, "group/project");
  EXPECT_EQ(p.head_target, "refs/heads/develop");
  ASSERT_TRUE(p.bundle && p.refs && p.custom_hooks);
  for (const FileDigest* d : {&*p.bundle, &*p.refs, &*p.custom_hooks}) {
    std::string path = dir_ / ("backups/" + d->name);
    EXPECT_EQ(testing::sh("sha256sum < " + path).substr(0, 64), d->sha256) << path;
    EXPECT_EQ(testing::sh("stat -c %s " + path), std::to_string(d->size) + "\n");
  }
  EXPECT_EQ(p.bundle->name, "b1/default/group/project.bundle");
  const RepositoryRecord& e = repo(rec, "group/sub/empty.git");
  EXPECT_EQ(e.status, ItemStatus::Empty);
  EXPECT_FALSE(e.bundle);
  EXPECT_EQ(e.head_target, "refs/heads/trunk");
}

TEST_F(BackupRun, RecordHeaderIsReadWithoutTheRepositoriesAndTruncationIsCaught) {
  LocalSink sink(dir_ / "backups");
  ASSERT_EQ(run_backup(opts_, sink).exit_code, 0);
  BackupRecord full = read_record(sink, "b1");
  BackupRecord head = read_record_header(sink, "b1");
  EXPECT_TRUE(head.repositories.empty());
  EXPECT_EQ(head.id, "b1");
  EXPECT_EQ(head.status, BackupStatus::Complete);
  EXPECT_EQ(head.started_at, full.started_at);
  EXPECT_EQ(head.finished_at, full.finished_at);
  EXPECT_EQ(head.storages, std::vector<std::string>{"default"});
  EXPECT_EQ(BackupCatalog(sink).newest_complete(nullptr), std::optional<std::string>("b1"));

  // A record cut short after its header is not taken for a complete backup.
  std::string path = dir_ / "backups/+gitvault/backups/b1.json";
  std::string text = testing::read_text(path);
  testing::write_text(path, text.substr(0, text.size() - 200));
  EXPECT_THROW(read_record_header(sink, "b1"), Error);
  EXPECT_THROW(read_record(sink, "b1"), Error);
  EXPECT_EQ(BackupCatalog(sink).newest_complete(nullptr), std::nullopt);

  // Records written with the fields in name order and indented (earlier versions) still read.
  nlohmann::json old = nlohmann::json::parse(text);
  testing::write_text(path, old.dump(1) + "\n");
  EXPECT_EQ(read_record_header(sink, "b1").status, BackupStatus::Complete);
  EXPECT_EQ(read_record(sink, "b1").repositories.size(), full.repositories.size());
}

TEST_F(BackupRun, FullDiskFailsThatRepositoryAndTheBackupIsNotComplete) {
  LocalSink local(dir_ / "backups");
  testing::FaultySink sink(local);
  sink.fail_name_containing = "many/refs.bundle";
  sink.bytes_before_enospc = 4096;
  BackupRunResult r = run_backup(opts_, sink);
  EXPECT_EQ(r.exit_code, 1);
  BackupRecord rec = read_record(local, "b1");
  EXPECT_EQ(rec.status, BackupStatus::Partial);
  const RepositoryRecord& m = repo(rec, "many/refs.git");
  EXPECT_EQ(m.status, ItemStatus::Failed);
  EXPECT_NE(m.error.find("No space left on device"), std::string::npos) << m.error;
  EXPECT_NE(m.error.find("many/refs.bundle"), std::string::npos) << m.error;
  EXPECT_FALSE(m.bundle);
  EXPECT_FALSE(path_exists(dir_ / "backups/b1/default/many/refs.bundle"));
  EXPECT_TRUE(testing::temp_files_under(dir_ / "backups").empty());
  EXPECT_EQ(repo(rec, "group/project.git").status, ItemStatus::Ok);
  ASSERT_EQ(r.failures.size(), 1u) << failures(r);
  EXPECT_EQ(r.failures[0].relative_path, "many/refs.git");
  EXPECT_NE(r.failures[0].reason.find("No space left on device"), std::string::npos);
}

TEST_F(BackupRun, FailedRenameFailsTheRepository) {
  LocalSink local(dir_ / "backups");
  testing::FaultySink sink(local);
  sink.fail_name_containing = "group/project.refs";
  sink.fail_commit = true;
  BackupRunResult r = run_backup(opts_, sink);
  EXPECT_EQ(r.exit_code, 1);
  BackupRecord rec = read_record(local, "b1");
  EXPECT_EQ(rec.status, BackupStatus::Partial);
  EXPECT_EQ(repo(rec, "group/project.git").status, ItemStatus::Failed);
  EXPECT_FALSE(path_exists(dir_ / "backups/b1/default/group/project.refs"));
  EXPECT_TRUE(testing::temp_files_under(dir_ / "backups").empty());
}

TEST_F(BackupRun, FinalRecordThatCannotBeWrittenLeavesItRunningNotComplete) {
  LocalSink local(dir_ / "backups");
  testing::FaultySink sink(local);
  sink.fail_name_containing = "+gitvault/backups/";
  sink.pass_first = 1;  // the "running" record is written; the final one hits a full disk
  sink.bytes_before_enospc = 100;
  BackupRunResult r = run_backup(opts_, sink);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(read_record(local, "b1").status, BackupStatus::Running);
  EXPECT_NE(failures(r).find("cannot write the backup record"), std::string::npos) << failures(r);
}

TEST_F(BackupRun, RepositoryThatCannotBeReadFailsAloneWithItsReason) {
  testing::sh("echo '" + std::string(40, 'e') + " refs/heads/ghost' >> " + (dir_ / "storage/group/detached.git/packed-refs"));
  LocalSink sink(dir_ / "backups");
  BackupRunResult r = run_backup(opts_, sink);
  EXPECT_EQ(r.exit_code, 1);
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_EQ(r.failures[0].relative_path, "group/detached.git");
  EXPECT_NE(r.failures[0].reason.find("pack-objects"), std::string::npos) << r.failures[0].reason;
  BackupRecord rec = read_record(sink, "b1");
  EXPECT_EQ(rec.status, BackupStatus::Partial);
  EXPECT_EQ(rec.count(ItemStatus::Ok) + rec.count(ItemStatus::Empty), 5u);
}

TEST_F(BackupRun, ExistingBackupIdIsRefused) {
  LocalSink sink(dir_ / "backups");
  run_backup(opts_, sink);
  try {
    run_backup(opts_, sink);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Usage);
  }
}

TEST_F(BackupRun, SelectionThatMatchesNothingIsAUsageError) {
  LocalSink sink(dir_ / "backups");
  opts_.filter = PathFilter({"no/such/group"}, {});
  EXPECT_THROW(run_backup(opts_, sink), Error);
  EXPECT_FALSE(sink.exists(record_name("b1")));
}

TEST_F(BackupRun, MissingStorageDirectoryIsAConfigError) {
  LocalSink sink(dir_ / "backups");
  opts_.storages.push_back({"other", dir_ / "nope"});
  try {
    run_backup(opts_, sink);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Config);
    EXPECT_NE(std::string(e.what()).find("other"), std::string::npos);
  }
}

}  // namespace
}  // namespace gitvault
