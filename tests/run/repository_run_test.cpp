// The run skeleton shared by backup and restore (run/repository_run.h), with real worker
// processes: small shell programs that answer, die or fail the way a worker can.
#include "run/repository_run.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace gitvault {
namespace {

class RecordingObserver : public RunObserver {
 public:
  void item_done(const ItemDone& item) override {
    std::lock_guard<std::mutex> lock(mu);
    items.push_back(item);
  }
  std::mutex mu;
  std::vector<ItemDone> items;
};

struct Outcomes {
  std::vector<int> calls;
  std::vector<JobOutcome> outcomes;
  explicit Outcomes(std::size_t n) : calls(n, 0), outcomes(n) {}
  std::function<void(std::size_t, const JobOutcome&)> done() {
    return [this](std::size_t i, const JobOutcome& o) {
      ++calls[i];
      outcomes[i] = o;
    };
  }
};

// A worker that answers each job line with the same line plus "msg":"answered".
WorkerCommand answering_worker(const std::string& then = "exit 0") {
  return {"/bin/sh", {"-c", "sed -u 's/}$/,\"msg\":\"answered\"}/'; " + then}, {}};
}

std::optional<JobOutcome> read_answer(std::size_t, const WorkerAnswer& line) {
  if (line.other_msg != "answered") return std::nullopt;
  JobOutcome o;
  o.bytes = 7;
  return o;
}

std::vector<EngineJob> jobs_of(Engine engine, int n) {
  std::vector<EngineJob> jobs;
  for (int i = 0; i < n; ++i) jobs.push_back({"default", "group/p" + std::to_string(i) + ".git", "", engine});
  return jobs;
}

TEST(RepositoryRun, LegacyJobsRunOneAtATimeAndAnExceptionFailsOnlyItsJob) {
  RecordingObserver observer;
  auto jobs = jobs_of(Engine::Legacy, 4);
  Outcomes got(jobs.size());
  std::atomic<int> running{0}, most{0};
  RepositoryRun run("test", "testing", std::nullopt, observer);
  RepositoryRun::Engines engines;
  engines.legacy = [&](std::size_t i) {
    int now = ++running;
    most = std::max(most.load(), now);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    --running;
    if (i == 2) throw std::runtime_error("disk full writing p2");
    return JobOutcome{};
  };
  engines.done = got.done();
  run.run(jobs, engines);
  EXPECT_EQ(most.load(), 1);
  for (std::size_t i = 0; i < jobs.size(); ++i) EXPECT_EQ(got.calls[i], 1) << i;
  EXPECT_EQ(got.outcomes[2].status, ItemStatus::Failed);
  EXPECT_EQ(got.outcomes[2].error, "disk full writing p2");
  EXPECT_EQ(got.outcomes[1].status, ItemStatus::Ok);
  EXPECT_GT(got.outcomes[1].seconds, 0.0);
  EXPECT_EQ(observer.items.size(), jobs.size());
  EXPECT_EQ(run.worker_failure(), "");
}

TEST(RepositoryRun, WorkerAnswersAreMatchedToTheirJobsBesideTheLegacyEngine) {
  RecordingObserver observer;
  auto jobs = jobs_of(Engine::Pipeline, 3);
  jobs.push_back({"default", "odd\nname.git", "", Engine::Pipeline});
  jobs.push_back({"default", "legacy.git", "", Engine::Legacy});
  Outcomes got(jobs.size());
  RepositoryRun run("test", "testing", answering_worker(), observer);
  RepositoryRun::Engines engines;
  engines.legacy = [](std::size_t) { return JobOutcome{}; };
  engines.worker_result = read_answer;
  engines.done = got.done();
  run.run(jobs, engines);
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    EXPECT_EQ(got.calls[i], 1) << i;
    EXPECT_EQ(got.outcomes[i].status, ItemStatus::Ok) << i << ": " << got.outcomes[i].error;
  }
  EXPECT_EQ(got.outcomes[3].bytes, 7u);  // answered by the worker
  EXPECT_EQ(got.outcomes[4].bytes, 0u);  // done in process
  EXPECT_EQ(run.worker_failure(), "");
}

TEST(RepositoryRun, AWorkerKilledMidRunFailsEveryJobItDidNotReportAndSaysHow) {
  RecordingObserver observer;
  auto jobs = jobs_of(Engine::Pipeline, 3);
  Outcomes got(jobs.size());
  // Answers the first job, then is killed.
  WorkerCommand worker{"/bin/sh", {"-c", "read l; echo \"$l\" | sed 's/}$/,\"msg\":\"answered\"}/'; kill -9 $$"}, {}};
  RepositoryRun run("test", "testing", worker, observer);
  RepositoryRun::Engines engines;
  engines.worker_result = read_answer;
  engines.done = got.done();
  run.run(jobs, engines);
  EXPECT_EQ(got.outcomes[0].status, ItemStatus::Ok);
  for (std::size_t i : {1u, 2u}) {
    EXPECT_EQ(got.calls[i], 1);
    EXPECT_EQ(got.outcomes[i].status, ItemStatus::Failed);
    EXPECT_NE(got.outcomes[i].error.find("gitaly-backup worker (/bin/sh) ended before testing this repository: "
                                         "killed by signal 9"),
              std::string::npos)
        << got.outcomes[i].error;
  }
  EXPECT_EQ(run.worker_failure(), "");  // the failure is the jobs'
}

TEST(RepositoryRun, AWorkerThatFailsWithoutBlamingAJobFailsTheRun) {
  RecordingObserver observer;
  auto jobs = jobs_of(Engine::Pipeline, 2);
  Outcomes got(jobs.size());
  RepositoryRun run("test", "testing", answering_worker("exit 3"), observer);
  RepositoryRun::Engines engines;
  engines.worker_result = read_answer;
  engines.done = got.done();
  run.run(jobs, engines);
  EXPECT_EQ(got.outcomes[0].status, ItemStatus::Ok);
  EXPECT_EQ(got.outcomes[1].status, ItemStatus::Ok);
  EXPECT_NE(run.worker_failure().find("failed: exit status 3"), std::string::npos) << run.worker_failure();
}

TEST(RepositoryRun, AnUnreadableAnswerFailsOnlyItsJob) {
  RecordingObserver observer;
  auto jobs = jobs_of(Engine::Pipeline, 2);
  Outcomes got(jobs.size());
  RepositoryRun run("test", "testing", answering_worker(), observer);
  RepositoryRun::Engines engines;
  engines.worker_result = [](std::size_t i, const WorkerAnswer& line) -> std::optional<JobOutcome> {
    if (i == 0) throw std::runtime_error("no repository entry");
    return read_answer(i, line);
  };
  engines.done = got.done();
  run.run(jobs, engines);
  EXPECT_EQ(got.outcomes[0].status, ItemStatus::Failed);
  EXPECT_NE(got.outcomes[0].error.find("unreadable result from the gitaly-backup worker: no repository entry"),
            std::string::npos);
  EXPECT_EQ(got.outcomes[1].status, ItemStatus::Ok);
  EXPECT_EQ(got.calls[0], 1);
}

TEST(RepositoryRun, PipelineJobsWithoutAWorkerFailInsteadOfHanging) {
  RecordingObserver observer;
  auto jobs = jobs_of(Engine::Pipeline, 1);
  Outcomes got(jobs.size());
  RepositoryRun run("test", "testing", std::nullopt, observer);
  RepositoryRun::Engines engines;
  engines.done = got.done();
  run.run(jobs, engines);
  EXPECT_EQ(got.outcomes[0].status, ItemStatus::Failed);
  EXPECT_NE(got.outcomes[0].error.find("no gitaly-backup worker"), std::string::npos) << got.outcomes[0].error;
}

}  // namespace
}  // namespace gitvault
