#include "flags/definition.h"
#include "flags/names.h"

#include <gtest/gtest.h>

namespace gitvault::flags {
namespace {

std::string yaml(const std::string& name, const std::string& type, const std::string& def) {
  return "---\nname: " + name + "\ndescription: test\nmilestone: '0.1'\ntype: " + type + "\ngroup: g\n" +
         (def.empty() ? "" : "default_enabled: " + def + "\n");
}

TEST(Definitions, BuiltInDefinitionsAreValid) {
  const Registry& r = builtin_registry();
  for (const auto& e : r.errors) ADD_FAILURE() << e;
  const Definition* d = r.find("gitaly_backup");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->type, "ops");
  EXPECT_TRUE(d->default_enabled);
  EXPECT_FALSE(d->description.empty());
}

TEST(Definitions, GitLabValidationRules) {
  struct Case {
    std::string source, text, expected_error;
  };
  std::vector<Case> cases = {
      {"definitions/ops/Bad-Name.yml", yaml("Bad-Name", "ops", "false"), "invalid name"},
      {"definitions/nope/x.yml", yaml("x", "nope", "false"), "invalid type"},
      {"definitions/wip/x.yml", yaml("x", "wip", "true"), "may not be default_enabled"},
      {"definitions/ops/y.yml", yaml("x", "ops", "false"), "file must be definitions/ops/x.yml"},
      {"definitions/beta/x.yml", yaml("x", "ops", "false"), "file must be definitions/ops/x.yml"},
      {"definitions/ops/x.yml", yaml("x", "ops", ""), "missing default_enabled"},
      {"definitions/ops/x.yml", "---\ntype: ops\ndefault_enabled: false\ndescription: d\n", "missing name"},
      {"definitions/ops/x.yml", "name: [unclosed", "invalid YAML"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> errors;
    parse_definition(c.text, c.source, errors);
    bool found = false;
    for (const auto& e : errors) found |= e.find(c.expected_error) != std::string::npos && e.find(c.source) == 0;
    EXPECT_TRUE(found) << c.source << " expected '" << c.expected_error << "'";
  }
  for (const std::string t : {"beta", "ops", "development"}) {
    std::vector<std::string> errors;
    parse_definition(yaml("x", t, "true"), "definitions/" + t + "/x.yml", errors);
    EXPECT_TRUE(errors.empty()) << t;
  }
}

TEST(Definitions, NameFormatFollowsGitLab) {
  for (const std::string ok : {"x", "gitaly_backup", "a1_b2", "flag_2024_v2"}) EXPECT_TRUE(valid_flag_name(ok)) << ok;
  for (const std::string bad : {"", "_x", "x_", "a__b", "1abc", "Abc", "a-b", "a b", "a.b", "\xc3\xa9t\xc3\xa9"})
    EXPECT_FALSE(valid_flag_name(bad)) << bad;
  EXPECT_TRUE(valid_flag_name(std::string(100, 'a')));
  EXPECT_FALSE(valid_flag_name(std::string(101, 'a')));
}

TEST(Definitions, DuplicateNamesAreRejected) {
  Registry r = load_registry({{"definitions/ops/x.yml", yaml("x", "ops", "false")},
                              {"definitions/ops/x.yml", yaml("x", "ops", "true")}});
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].find("duplicate"), std::string::npos);
}

}  // namespace
}  // namespace gitvault::flags

namespace gitvault::flags {
namespace {

// Every flag the code reads (flags/names.h) has a definition built into the binary.
TEST(FlagNames, EveryFlagReadByCodeHasADefinition) {
  for (const auto& name : flags_read_by_code())
    EXPECT_NE(builtin_registry().find(name.str()), nullptr) << name.value;
}

}  // namespace
}  // namespace gitvault::flags
