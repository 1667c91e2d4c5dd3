#include "flags/store.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <functional>

#include "flags/feature_flags.h"
#include "base/error.h"
#include "base/files.h"
#include "tests/support/test_support.h"

namespace gitvault::flags {
namespace {

using testing::ScratchDir;

class FlagStore : public ::testing::Test {
 protected:
  std::string db() { return dir_ / "state/flags.db"; }
  ScratchDir dir_;
};

TEST_F(FlagStore, ChangesPersistAndDeleteReturnsToTheDefault) {
  auto s = Store::open(db(), true);
  EXPECT_FALSE(s->read("gitaly_backup").persisted);
  s->change("gitaly_backup", "disable", {}, "false", true, [](GateState& g) { g = GateState{}; });
  GateState st = s->read("gitaly_backup");
  EXPECT_TRUE(st.persisted);
  EXPECT_FALSE(st.boolean);
  EXPECT_EQ(st.default_when_written, true);
  s->change("gitaly_backup", "delete", {}, "", true, nullptr, true);
  EXPECT_FALSE(s->read("gitaly_backup").persisted);
  auto events = s->events("gitaly_backup");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].action, "disable");
  EXPECT_NE(events[0].before.find("\"persisted\":false"), std::string::npos);
  EXPECT_NE(events[0].after.find("\"persisted\":true"), std::string::npos);
  EXPECT_FALSE(events[0].user.empty());
  EXPECT_FALSE(events[0].host.empty());
}

TEST_F(FlagStore, GatesRoundTrip) {
  auto s = Store::open(db(), true);
  GateState want;
  want.actors = {"Project:1", "Repository:a.git:opt_out"};
  want.percentage_of_actors = 12345;
  want.percentage_of_time = 1;
  s->change("gitaly_backup", "x", {}, "", true, [&](GateState& g) { g = want; });
  GateState got = Store::open(db(), false)->read("gitaly_backup");
  EXPECT_EQ(got.actors, want.actors);
  EXPECT_EQ(got.percentage_of_actors, want.percentage_of_actors);
  EXPECT_EQ(got.percentage_of_time, want.percentage_of_time);
}

TEST_F(FlagStore, RefusedChangeWritesNothing) {
  auto s = Store::open(db(), true);
  EXPECT_THROW(s->change("gitaly_backup", "x", {}, "", true, [](GateState&) { throw Error(ErrorCode::Usage, "no"); }),
               Error);
  EXPECT_FALSE(s->read("gitaly_backup").persisted);
  EXPECT_TRUE(s->events("").empty());
}

class FeatureFlagsFailure : public FlagStore {
 protected:
  void SetUp() override {
    auto s = Store::open(db(), true);
    s->change("gitaly_backup", "disable", {}, "false", true, [](GateState& g) { g = GateState{}; });
  }
  Evaluation eval(std::vector<std::string>* warnings = nullptr) {
    FeatureFlags ff(db());
    ff.load();
    if (warnings) *warnings = ff.warnings();
    return ff.evaluate("gitaly_backup", {"Repository:a.git"});
  }
};

TEST_F(FeatureFlagsFailure, StoredStateDecides) {
  Evaluation e = eval();
  EXPECT_FALSE(e.enabled);
  EXPECT_EQ(e.reason, Reason::Boolean);
}

TEST_F(FeatureFlagsFailure, CorruptStoreIsOffWithAWarningNamingIt) {
  testing::sh("rm -f " + db() + "-wal " + db() + "-shm; printf 'this is not a database at all, not even close.....' > " + db());
  std::vector<std::string> w;
  Evaluation e = eval(&w);
  EXPECT_FALSE(e.enabled);
  EXPECT_EQ(e.reason, Reason::StoreError);
  ASSERT_FALSE(w.empty());
  EXPECT_NE(w[0].find(db()), std::string::npos) << w[0];
}

// A store file missing from a directory that exists (deleted, or never written into the
// StateDirectory= a package made) is created empty: defaults apply, and what a backup record
// remembers (below) keeps an operator's opt-out.
TEST_F(FeatureFlagsFailure, DeletedStoreIsRecreatedEmptyAndDefaultsApply) {
  testing::sh("rm -f " + db() + "*");
  std::vector<std::string> w;
  Evaluation e = eval(&w);
  EXPECT_TRUE(e.enabled);
  EXPECT_EQ(e.reason, Reason::Default);
  EXPECT_TRUE(w.empty());
  EXPECT_TRUE(path_exists(db()));
}

TEST_F(FeatureFlagsFailure, ARememberedStateAppliesOnlyToAFlagTheStoreKnowsNothingOf) {
  RecordedFlag off;
  off.name = "gitaly_backup";
  off.changed_at = "2026-11-01T00:00:00Z";
  off.changed_by = "ops";
  off.changed_on_host = "db1";
  off.action = "disable";
  off.recorded_in = "backup b1";
  off.state.persisted = true;
  testing::sh("rm -f " + db() + "*");
  FeatureFlags fresh(db());
  fresh.load();
  EXPECT_TRUE(fresh.remember(off));
  Evaluation e = fresh.evaluate("gitaly_backup", {"Repository:a.git"});
  EXPECT_FALSE(e.enabled);
  EXPECT_EQ(e.reason, Reason::Remembered);
  EXPECT_NE(e.detail.find("by ops@db1"), std::string::npos) << e.detail;
  ASSERT_EQ(fresh.warnings().size(), 1u);
  EXPECT_NE(fresh.warnings()[0].find("gitvault feature delete gitaly_backup"), std::string::npos);
  EXPECT_FALSE(fresh.may_be_enabled("gitaly_backup"));
  // The snapshot carries it on, with its origin, to the next record.
  auto snap = fresh.snapshot();
  ASSERT_EQ(snap.size(), 1u);
  EXPECT_TRUE(snap[0].state.persisted);
  EXPECT_EQ(snap[0].changed_by, "ops");
  // Once the store has logged any change of the flag (a delete included), it decides.
  Store::open(db(), true)->change("gitaly_backup", "delete", {}, "", true, [](GateState&) {}, true);
  FeatureFlags written(db());
  written.load();
  EXPECT_FALSE(written.remember(off));
  EXPECT_TRUE(written.evaluate("gitaly_backup", {}).enabled);
  // A state that was never persisted (the default) is nothing to remember.
  RecordedFlag dflt = off;
  dflt.state = GateState{};
  testing::sh("rm -f " + db() + "*");
  FeatureFlags again(db());
  again.load();
  EXPECT_FALSE(again.remember(dflt));
}

TEST_F(FeatureFlagsFailure, MachineWithoutAnyStoreTakesDefaults) {
  FeatureFlags ff(dir_ / "never/created/flags.db");
  ff.load();
  EXPECT_TRUE(ff.warnings().empty());
  Evaluation e = ff.evaluate("gitaly_backup", {});
  EXPECT_TRUE(e.enabled);
  EXPECT_EQ(e.reason, Reason::Default);
}

TEST_F(FeatureFlagsFailure, OverrideBeatsTheStoreAndBadOverridesAreRefused) {
  ::setenv("GITVAULT_FEATURES", "gitaly_backup=true", 1);
  Evaluation e = eval();
  EXPECT_TRUE(e.enabled);
  EXPECT_EQ(e.reason, Reason::Override);
  for (const char* bad : {"gitaly_backup", "gitaly_backup=maybe", "no_such_flag=true"}) {
    ::setenv("GITVAULT_FEATURES", bad, 1);
    FeatureFlags ff(db());
    EXPECT_THROW(ff.load(), Error) << bad;
  }
  ::unsetenv("GITVAULT_FEATURES");
}

TEST_F(FeatureFlagsFailure, UnknownFlagIsAnErrorInTestsAndOffInProduction) {
  FeatureFlags ff(db());
  ff.load();
  EXPECT_THROW(ff.evaluate("no_such_flag", {}), Error);  // GITVAULT_STRICT_FLAGS=1 under ctest
  ::setenv("GITVAULT_STRICT_FLAGS", "0", 1);
  Evaluation e = ff.evaluate("no_such_flag", {});
  ::setenv("GITVAULT_STRICT_FLAGS", "1", 1);
  EXPECT_FALSE(e.enabled);
  EXPECT_EQ(e.reason, Reason::UnknownFlag);
}

// may_be_enabled is false exactly when no actor could see the flag on.
TEST_F(FeatureFlagsFailure, MayBeEnabledOnlyWhenSomeGateCanOpen) {
  auto set = [&](GateState want) {
    Store::open(db(), true)->change("gitaly_backup", "x", {}, "", true, [&](GateState& g) { g = want; });
    FeatureFlags ff(db());
    ff.load();
    return ff.may_be_enabled("gitaly_backup");
  };
  GateState off;
  off.persisted = true;
  EXPECT_FALSE(set(off));
  GateState only_opt_outs = off;
  only_opt_outs.actors = {"Repository:a.git:opt_out"};
  EXPECT_FALSE(set(only_opt_outs));
  GateState zero_percent = off;
  zero_percent.percentage_of_actors = 0;
  zero_percent.percentage_of_time = 0;
  EXPECT_FALSE(set(zero_percent));
  for (auto open : std::vector<std::function<void(GateState&)>>{
           [](GateState& g) { g.boolean = true; }, [](GateState& g) { g.actors = {"Project:1"}; },
           [](GateState& g) { g.percentage_of_actors = 1; }, [](GateState& g) { g.percentage_of_time = 1; }}) {
    GateState g = off;
    open(g);
    EXPECT_TRUE(set(g));
  }
  ::setenv("GITVAULT_FEATURES", "gitaly_backup=false", 1);
  GateState on = off;
  on.boolean = true;
  EXPECT_FALSE(set(on));
  ::unsetenv("GITVAULT_FEATURES");
  testing::write_text(db(), "not a database");  // unreadable store: off
  testing::sh("rm -f " + db() + "-wal " + db() + "-shm");
  FeatureFlags broken(db());
  broken.load();
  EXPECT_FALSE(broken.may_be_enabled("gitaly_backup"));
  FeatureFlags fresh(dir_ / "never/created/flags.db");  // never set: default_enabled
  fresh.load();
  EXPECT_TRUE(fresh.may_be_enabled("gitaly_backup"));
}

TEST(RepositoryActors, AreRepositoryProjectAndStorage) {
  EXPECT_EQ(repository_actors("default", "g/p.git", "g/p"),
            (std::vector<std::string>{"Repository:g/p.git", "Project:g/p", "Storage:default"}));
  EXPECT_EQ(repository_actors("s2", "x.git", ""), (std::vector<std::string>{"Repository:x.git", "Storage:s2"}));
}

}  // namespace
}  // namespace gitvault::flags
