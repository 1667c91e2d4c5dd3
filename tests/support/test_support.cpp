#include "tests/support/test_support.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "base/encoding.h"
#include "base/files.h"

namespace fs = std::filesystem;

namespace gitvault::testing {

namespace {
// Every test process finds the worker that was built with it.
const bool worker_env_set = [] {
  ::setenv("GITVAULT_WORKER", GITVAULT_WORKER_BIN, 0);
  return true;
}();
}  // namespace

ScratchDir::ScratchDir() {
  std::string base = fs::temp_directory_path() / "gitvault-test-XXXXXX";
  std::vector<char> buf(base.begin(), base.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data())) throw std::runtime_error("mkdtemp failed");
  path_ = buf.data();
}

ScratchDir::~ScratchDir() {
  if (!std::getenv("GITVAULT_KEEP_TEST_DIRS")) {
    std::error_code ec;
    fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(path_, ec);
  }
}

int sh_status(const std::string& command, std::string* out) {
  ProcessSpec spec;
  spec.program = "/bin/sh";
  spec.args = {"-c", command + " 2>&1"};
  spec.env_set = {{"GIT_CONFIG_NOSYSTEM", "1"}, {"LC_ALL", "C"}};
  ProcessResult r = run_process(spec);
  if (out) *out = r.out;
  return r.exit_code;
}

std::string sh(const std::string& command) {
  std::string out;
  int rc = sh_status(command, &out);
  if (rc != 0) throw std::runtime_error("command failed (" + std::to_string(rc) + "): " + command + "\n" + out);
  return out;
}

void make_fixture_storage(const std::string& dir, int many_refs) {
  sh(std::string(GITVAULT_SOURCE_DIR) + "/tests/fixtures/make-storage.sh '" + dir + "' " + std::to_string(many_refs));
}

std::string show_ref(const std::string& repo) {
  std::string out;
  sh_status("git -c safe.directory='*' --git-dir='" + repo + "' show-ref --head", &out);
  return out;
}

std::string symbolic_head(const std::string& repo) {
  std::string out;
  sh_status("git -c safe.directory='*' --git-dir='" + repo + "' symbolic-ref -q HEAD", &out);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::string gitvault_binary() { return GITVAULT_BIN; }

std::string fixtures_dir() { return std::string(GITVAULT_SOURCE_DIR) + "/tests/fixtures"; }

CommandResult gitvault(const std::vector<std::string>& args,
                       const std::vector<std::pair<std::string, std::string>>& env) {
  ProcessSpec spec;
  spec.env_set = env;
  spec.program = gitvault_binary();
  spec.args = args;
  ProcessResult r = run_process(spec);
  return {r.signal ? 128 + r.signal : r.exit_code, r.out, r.err};
}

std::string read_text(const std::string& path) { return read_file(path); }

void write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  if (!f) throw std::runtime_error("cannot write " + path);
}

std::vector<std::string> temp_files_under(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); it != fs::recursive_directory_iterator(); ++it)
    if (it->path().filename().string().find(".tmp-") != std::string::npos) out.push_back(it->path().string());
  return out;
}

bool running_in_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}

namespace {
std::string fresh_prefix_url(const char* variable, const std::string& extra_query) {
  const char* base = std::getenv(variable);
  if (!base || !*base) return "";
  static std::atomic<int> n{0};
  std::string url = base, query;
  if (auto q = url.find('?'); q != std::string::npos) {
    query = url.substr(q);
    url = url.substr(0, q);
  }
  std::string prefix = "t-" + std::to_string(::getpid()) + "-" + std::to_string(++n) + "-" +
                       std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  if (!extra_query.empty()) query += (query.empty() ? "?" : "&") + extra_query;
  return url + "/" + prefix + query;
}
}  // namespace

std::string s3_test_url(const std::string& extra_query) { return fresh_prefix_url("GITVAULT_TEST_S3_URL", extra_query); }

std::string s3_locked_test_url(const std::string& extra_query) {
  return fresh_prefix_url("GITVAULT_TEST_S3_LOCKED_URL", extra_query);
}

nlohmann::json chain_steps_of(const std::string& backups, const nlohmann::json& entry) {
  if (!entry.contains("chain")) return entry.value("previous_steps", nlohmann::json::array());
  if (entry.contains("previous_steps")) throw std::runtime_error("an entry names its chain file and repeats the chain");
  std::string key = entry["chain"].get<std::string>();
  if (auto slash = key.find('/'); slash != std::string::npos) key.replace(slash, 1, ".hosts/");
  nlohmann::json file = parse_json_text(read_file(backups + "/+gitvault/chains/" + key + ".json"));
  for (const auto& r : file["repositories"])
    if (r["storage"] == entry["storage"] && r["relative_path"] == entry["relative_path"]) return r["previous_steps"];
  throw std::runtime_error("chain file " + key + " has no chain of " + entry["relative_path"].get<std::string>());
}

}  // namespace gitvault::testing
