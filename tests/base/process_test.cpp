#include "base/process.h"

#include <gtest/gtest.h>

#include <thread>

#include "base/error.h"

namespace gitvault {
namespace {

TEST(Process, StreamsLargeInputAndOutputWithoutDeadlock) {
  ProcessSpec spec;
  spec.program = "sh";
  spec.args = {"-c", "cat; cat /dev/null >&2; head -c 300000 /dev/zero >&2"};
  std::string input(5 << 20, 'x');
  spec.stdin_producer = [&](PipeWriter& w) { w.write(input.data(), input.size()); };
  std::size_t got = 0;
  spec.stdout_consumer = [&](const char*, std::size_t n) { got += n; };
  ProcessResult r = run_process(spec);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(got, input.size());
  EXPECT_EQ(r.err.size(), 64u * 1024);  // bounded
}

TEST(Process, ReportsExitStatusSignalAndStderr) {
  ProcessSpec spec;
  spec.program = "sh";
  spec.args = {"-c", "echo first >&2; echo 'the reason' >&2; exit 3"};
  ProcessResult r = run_process(spec);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.describe().find("exit status 3"), std::string::npos);
  EXPECT_NE(r.describe().find("the reason"), std::string::npos);
  spec.args = {"-c", "kill -9 $$"};
  r = run_process(spec);
  EXPECT_EQ(r.signal, 9);
  EXPECT_FALSE(r.ok());
}

TEST(Process, ConsumerErrorStopsTheChildAndIsRethrown) {
  ProcessSpec spec;
  spec.program = "sh";
  spec.args = {"-c", "yes"};
  spec.stdout_consumer = [](const char*, std::size_t) { throw Error(ErrorCode::NoSpace, "disk full"); };
  EXPECT_THROW(run_process(spec), Error);
}

TEST(Process, MissingProgramIsAnError) {
  ProcessSpec spec;
  spec.program = "gitvault-no-such-program";
  EXPECT_THROW(run_process(spec), Error);
}

TEST(Process, ProgramThatCannotBeExecutedIsAnErrorNamingIt) {
  // Found by path, so the failure comes from exec in the (vforked) child.
  for (const std::string program : {"/nonexistent/gitvault-no-such-program", "/etc/hostname"}) {
    ProcessSpec spec;
    spec.program = program;
    try {
      run_process(spec);
      FAIL() << program;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(program), std::string::npos) << e.what();
    }
  }
}

TEST(Process, ConcurrentChildrenDoNotInheritEachOthersPipes) {
  // If pipes leaked into siblings, the short child's EOF would wait for the long one.
  std::vector<std::thread> slow;
  for (int i = 0; i < 3; ++i)
    slow.emplace_back([] {
      ProcessSpec s;
      s.program = "sleep";
      s.args = {"2"};
      run_process(s);
    });
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) {
    ProcessSpec s;
    s.program = "true";
    run_process(s);
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (auto& t : slow) t.join();
  EXPECT_LT(secs, 1.5);
}

}  // namespace
}  // namespace gitvault
