// The worker's job logic in process (no binary): jobs in, log lines out, exit status.
#include "gitaly/worker.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/encoding.h"
#include "base/error.h"
#include "base/files.h"
#include "base/run_lock.h"
#include "gitaly/protocol.h"
#include "tests/support/test_support.h"

namespace gitvault {
namespace {

using nlohmann::json;
using testing::ScratchDir;

struct Outcome {
  int exit_code;
  std::vector<json> lines;
  std::vector<WorkerAnswer> answers;  // the same lines as gitvault reads them
  std::string err;
};

Outcome run(const WorkerOptions& o, const std::string& input) {
  std::istringstream in(input);
  char* out_buf = nullptr;
  std::size_t out_size = 0;
  char* err_buf = nullptr;
  std::size_t err_size = 0;
  std::FILE* out = ::open_memstream(&out_buf, &out_size);
  std::FILE* err = ::open_memstream(&err_buf, &err_size);
  Outcome r;
  r.exit_code = run_worker_jobs(o, in, out, err);
  std::fclose(out);
  std::fclose(err);
  std::istringstream text(std::string(out_buf, out_size));
  for (std::string line; std::getline(text, line);) {
    r.lines.push_back(parse_json_text(line));
    r.answers.push_back(parse_worker_answer(line));  // every line the worker writes is an answer
  }
  r.err.assign(err_buf, err_size);
  std::free(out_buf);
  std::free(err_buf);
  return r;
}

std::size_t count(const Outcome& o, const std::string& msg) {
  std::size_t n = 0;
  for (const auto& l : o.lines) n += l.value("msg", "") == msg;
  return n;
}

TEST(Worker, CreatesThenRestoresInProcessAndAnswersEveryLine) {
  ScratchDir dir;
  testing::make_fixture_storage(dir / "storage", 20);
  WorkerOptions create;
  create.command = "create";
  create.path = dir / "backups";
  create.storages = {{"default", dir / "storage"}};
  create.id = "w1";
  std::string jobs =
      "{\"storage_name\":\"default\",\"relative_path\":\"group/project.git\",\"gl_project_path\":\"group/project\"}\n"
      "not json\n"
      "{\"storage_name\":\"default\",\"relative_path\":\"many/refs.git\"}\n";
  Outcome c = run(create, jobs);
  EXPECT_EQ(c.exit_code, 1);  // the bad line fails the run, not the other jobs
  EXPECT_EQ(count(c, "completed create"), 2u);
  EXPECT_EQ(count(c, "invalid job"), 1u);
  EXPECT_EQ(c.lines.back()["msg"], "finished");
  EXPECT_EQ(c.answers.back().kind, WorkerAnswer::Kind::Finished);
  EXPECT_EQ(c.answers.back().failures, 1u);
  EXPECT_GT(c.answers.back().peak_rss_kib, 0);
  for (const auto& a : c.answers) {
    if (a.kind == WorkerAnswer::Kind::InvalidJob) {
      EXPECT_EQ(a.line, 2u);
    }
    if (a.kind == WorkerAnswer::Kind::Completed) {
      EXPECT_TRUE(a.names_job);
      EXPECT_EQ(a.repository.value("relative_path", ""), a.job.relative_path);
      EXPECT_GT(a.bytes, 0u);
    }
  }
  EXPECT_NE(c.err.find("create: pipeline: 1 failures encountered:"), std::string::npos) << c.err;
  EXPECT_TRUE(path_exists(dir / "backups/manifests/default/group/project.git/w1.toml"));

  WorkerOptions restore = create;
  restore.command = "restore";
  restore.storages = {{"default", dir / "restored"}};
  Outcome r = run(restore, jobs);
  EXPECT_EQ(count(r, "completed restore"), 2u);
  EXPECT_EQ(testing::show_ref(dir / "storage/group/project.git"), testing::show_ref(dir / "restored/group/project.git"));
  EXPECT_EQ(testing::show_ref(dir / "storage/many/refs.git"), testing::show_ref(dir / "restored/many/refs.git"));
}

TEST(WorkerAnswer, EachKindSurvivesARoundTripAndAFieldOfTheWrongTypeIsRefused) {
  using Kind = WorkerAnswer::Kind;
  for (Kind k : {Kind::Started, Kind::Completed, Kind::Skipped, Kind::NotAttempted, Kind::Failed}) {
    WorkerAnswer a;
    a.kind = k;
    a.command = "restore";
    a.level = "warn";
    a.names_job = true;
    a.job = {"default", "caf\xe9/p.git", "g/p", false};  // not UTF-8: travels as _raw
    a.bytes = 1ull << 40;
    a.duration_seconds = 2.5;
    a.linked_pool = "@pools/aa/bb/pool.git";
    a.pool_pulled_in = true;
    WorkerAnswer b = parse_worker_answer(format_worker_answer(a));
    EXPECT_EQ(b.kind, k);
    EXPECT_EQ(b.job.relative_path, a.job.relative_path);
    EXPECT_EQ(b.linked_pool, a.linked_pool);
    EXPECT_TRUE(b.pool_pulled_in);
    if (k != Kind::Started) {
      EXPECT_EQ(b.bytes, a.bytes);
      EXPECT_EQ(b.duration_seconds, 2.5);
    }
  }
  for (const char* bad : {R"({"msg":"completed create","bytes":1e300})", R"({"msg":"completed create","repository":"x"})",
                          R"({"level":"info"})", R"({"msg":"finished","failures":-1})", R"([1,2])", "not json",
                          R"({"msg":"restore failed","error":7})"}) {
    try {
      parse_worker_answer(bad);
      ADD_FAILURE() << "read as an answer: " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::Corrupt) << bad;
    }
  }
  // a message this version does not know is kept, not refused (a newer worker's event)
  EXPECT_EQ(parse_worker_answer(R"({"msg":"compacted create"})").other_msg, "compacted create");
}

TEST(Worker, RefusesToStartWhileAnotherWriterHoldsTheDirectory) {
  ScratchDir dir;
  testing::make_fixture_storage(dir / "storage", 20);
  auto held = RunLock::acquire(dir / "backups/+gitvault", "backup directory",
                               LockHolder::current("backup", "other", LockMode::Exclusive), {});
  WorkerOptions o;
  o.command = "create";
  o.path = dir / "backups";
  o.storages = {{"default", dir / "storage"}};
  o.id = "w1";
  Outcome c = run(o, "{\"storage_name\":\"default\",\"relative_path\":\"group/project.git\"}\n");
  EXPECT_EQ(c.exit_code, 2);
  EXPECT_NE(c.err.find("in use by backup other"), std::string::npos) << c.err;
  o.no_lock = true;  // gitvault holds the locks for the worker it spawns
  EXPECT_EQ(run(o, "{\"storage_name\":\"default\",\"relative_path\":\"group/project.git\"}\n").exit_code, 0);
}

}  // namespace
}  // namespace gitvault
