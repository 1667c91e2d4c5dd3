#include "flags/evaluate.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include "base/error.h"

namespace gitvault::flags {
namespace {

Definition def(bool default_enabled = false) {
  Definition d;
  d.name = "gitaly_backup";
  d.type = "ops";
  d.default_enabled = default_enabled;
  return d;
}
std::uint32_t never() { ADD_FAILURE() << "random draw not expected"; return 0; }

TEST(ActorBucket, ReferenceVectors) {
  EXPECT_EQ(actor_bucket("gitaly_backup", {"Project:1"}), 4972u);
  EXPECT_EQ(actor_bucket("gitaly_backup", {"Project:123"}), 20004u);
  EXPECT_EQ(actor_bucket("some_feature", {"User:1"}), 9890u);
  EXPECT_EQ(actor_bucket("gitaly_backup", {"User:1", "Project:2"}), 89020u);  // sorted, concatenated
}

TEST(ActorBucket, IsZlibCrc32OfNamePlusIdModuloHundredThousand) {
  for (int i = 0; i < 500; ++i) {
    std::string id = "Repository:group/p" + std::to_string(i) + ".git";
    std::string s = "gitaly_backup" + id;
    uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size()));
    EXPECT_EQ(actor_bucket("gitaly_backup", {id}), crc % 100000) << id;
  }
}

TEST(Percentage, ParsesExactlyToThousandths) {
  EXPECT_EQ(parse_percentage("5"), 5000u);
  EXPECT_EQ(parse_percentage("4.9"), 4900u);
  EXPECT_EQ(parse_percentage("0.125"), 125u);
  EXPECT_EQ(parse_percentage("100"), 100000u);
  EXPECT_EQ(parse_percentage("0"), 0u);
  EXPECT_EQ(format_percentage(4900), "4.9");
  EXPECT_EQ(format_percentage(125), "0.125");
  for (const char* bad : {"101", "-1", "1.2345", "abc", "", "1.", ".5", "100.001", "1e2"})
    EXPECT_THROW(parse_percentage(bad), Error) << bad;
}

TEST(Evaluate, NotPersistedTakesTheDefault) {
  EXPECT_TRUE(evaluate(def(true), {}, {}, never).enabled);
  Evaluation e = evaluate(def(false), {}, {"Project:1"}, never);
  EXPECT_FALSE(e.enabled);
  EXPECT_EQ(e.reason, Reason::Default);
}

TEST(Evaluate, PersistedWithNoGateIsOffEvenWhenDefaultIsOn) {
  GateState s;
  s.persisted = true;
  Evaluation e = evaluate(def(true), s, {"Project:1"}, never);
  EXPECT_FALSE(e.enabled);
  EXPECT_EQ(e.reason, Reason::Boolean);
}

TEST(Evaluate, BooleanActorsAndPercentageOfActors) {
  GateState s;
  s.persisted = true;
  s.boolean = true;
  EXPECT_EQ(evaluate(def(), s, {}, never).reason, Reason::Boolean);
  s.boolean = false;
  s.actors = {"Project:7"};
  EXPECT_TRUE(evaluate(def(), s, {"Repository:x", "Project:7"}, never).enabled);
  EXPECT_EQ(evaluate(def(), s, {"Project:7"}, never).reason, Reason::Actor);
  EXPECT_FALSE(evaluate(def(), s, {"Project:8"}, never).enabled);
  s.actors.clear();
  s.percentage_of_actors = 5000;
  EXPECT_TRUE(evaluate(def(), s, {"Project:1"}, never).enabled);  // bucket 4972
  s.percentage_of_actors = 4900;
  Evaluation e = evaluate(def(), s, {"Project:1"}, never);
  EXPECT_FALSE(e.enabled);
  EXPECT_EQ(e.reason, Reason::PercentageOfActors);
  s.percentage_of_actors = 89021;
  EXPECT_TRUE(evaluate(def(), s, {"Project:2", "User:1"}, never).enabled);  // bucket 89020
  s.percentage_of_actors = 89020;
  EXPECT_FALSE(evaluate(def(), s, {"Project:2", "User:1"}, never).enabled);
  s.percentage_of_actors = 100000;
  EXPECT_TRUE(evaluate(def(), s, {"Project:123"}, never).enabled);
}

TEST(Evaluate, PercentageOfTimeDrawsEveryCall) {
  GateState s;
  s.persisted = true;
  s.percentage_of_time = 25000;
  EXPECT_TRUE(evaluate(def(), s, {}, [] { return 24999u; }).enabled);
  Evaluation e = evaluate(def(), s, {}, [] { return 25000u; });
  EXPECT_FALSE(e.enabled);
  EXPECT_EQ(e.reason, Reason::PercentageOfTime);
  int on = 0;
  for (int i = 0; i < 20000; ++i) on += evaluate(def(), s, {}, default_random_draw).enabled;
  EXPECT_NEAR(on / 20000.0, 0.25, 0.02);
}

TEST(Evaluate, AnyOpenGateIsEnough) {
  GateState s;
  s.persisted = true;
  s.percentage_of_actors = 1;  // Project:123 is out (bucket 20004)
  s.actors = {"Project:123"};
  EXPECT_EQ(evaluate(def(), s, {"Project:123"}, never).reason, Reason::Actor);
}

TEST(Evaluate, OptOutWinsOverEveryGate) {
  GateState s;
  s.persisted = true;
  s.boolean = true;
  s.actors = {"Repository:a.git:opt_out"};
  Evaluation e = evaluate(def(), s, {"Repository:a.git", "Storage:default"}, never);
  EXPECT_FALSE(e.enabled);
  EXPECT_EQ(e.reason, Reason::OptOut);
  EXPECT_TRUE(evaluate(def(), s, {"Repository:b.git", "Storage:default"}, never).enabled);
  s.boolean = false;
  s.percentage_of_actors = 100000;
  EXPECT_EQ(evaluate(def(), s, {"Repository:a.git"}, never).reason, Reason::OptOut);
}

}  // namespace
}  // namespace gitvault::flags
