// The fixture most end-to-end tests share: a scratch directory holding a storage of real
// repositories made by tests/fixtures/make-storage.sh, the gitvault binary run with a flag
// store of the test's own, and every repository's refs for comparing a restore with it.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/test_support.h"

namespace gitvault::testing {

class StorageFixture : public ::testing::Test {
 protected:
  void SetUp() override { make_fixture_storage(dir_ / "storage", 50); }
  CommandResult gv(std::vector<std::string> args) {
    return gitvault(args, {{"GITVAULT_FLAGS_DB", dir_ / "flags/flags.db"}});
  }
  // gitaly_backup on ("true") or off ("false") for every repository.
  void flag(const std::string& value) {
    auto r = gv({"feature", "set", "gitaly_backup", value});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  // Every repository under storage_dir with its refs, HEAD and HEAD's target, sorted.
  std::string refs_of_all(const std::string& storage_dir) {
    return sh("cd " + storage_dir +
              " && for r in $(find . -path ./+gitvault -prune -o -name '*.git' -type d -prune -print | sort); do echo $r; "
              "git --git-dir=$r show-ref --head; git --git-dir=$r symbolic-ref -q HEAD; done");
  }
  ScratchDir dir_;
};

}  // namespace gitvault::testing
