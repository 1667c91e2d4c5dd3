// Where S3 credentials come from, and how they stay in this process (s3/client.h).
#include <sys/prctl.h>

#include <cstdlib>
#include <fstream>
#include <mutex>
#include <optional>

#include "base/error.h"
#include "s3/client.h"

namespace gitvault::s3 {
namespace {

const char* const kSecretVariables[] = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"};

struct Store {
  std::mutex mu;
  bool adopted = false;            // the environment's were taken (adopt_environment_credentials)
  Credentials environment;         // as taken
  Credentials configured;          // [s3]
};

Store& store() {
  static Store s;
  return s;
}

// No core dump, no ptrace by other users' processes, while a secret is in memory.
void hold_secret(const Credentials& c) {
  if (!c.secret_access_key.empty() || !c.session_token.empty()) ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

Credentials environment_now() {
  return {env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"), env("AWS_SESSION_TOKEN")};
}

std::string trim(const std::string& s) {
  std::size_t b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

}  // namespace

void adopt_environment_credentials() {
  Store& s = store();
  std::lock_guard<std::mutex> lock(s.mu);
  s.environment = environment_now();
  s.adopted = true;
  for (const char* n : kSecretVariables) ::unsetenv(n);
  hold_secret(s.environment);
}

void set_configured_credentials(const Credentials& credentials) {
  Store& s = store();
  std::lock_guard<std::mutex> lock(s.mu);
  s.configured = credentials;
  hold_secret(credentials);
}

Credentials credentials_from_environment() {
  Credentials from_env, configured;
  {
    Store& s = store();
    std::lock_guard<std::mutex> lock(s.mu);
    from_env = s.adopted ? s.environment : environment_now();
    configured = s.configured;
  }
  if (from_env.access_key_id.empty() != from_env.secret_access_key.empty())
    throw Error(ErrorCode::Config, std::string("the environment has ") +
                                       (from_env.access_key_id.empty() ? "AWS_SECRET_ACCESS_KEY but no AWS_ACCESS_KEY_ID"
                                                                       : "AWS_ACCESS_KEY_ID but no AWS_SECRET_ACCESS_KEY") +
                                       ": give both, or neither");
  if (!from_env.access_key_id.empty()) return from_env;
  if (!configured.access_key_id.empty() && !configured.secret_access_key.empty()) return configured;
  std::string file = env("AWS_SHARED_CREDENTIALS_FILE");
  if (file.empty() && !env("HOME").empty()) file = env("HOME") + "/.aws/credentials";
  std::string profile = env("AWS_PROFILE").empty() ? "default" : env("AWS_PROFILE");
  Credentials c;
  std::ifstream in(file);
  std::string line, section;
  while (in && std::getline(in, line)) {
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      section = trim(line.substr(1, line.size() - 2));
      continue;
    }
    if (section != profile) continue;
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string k = trim(line.substr(0, eq)), v = trim(line.substr(eq + 1));
    if (k == "aws_access_key_id") c.access_key_id = v;
    if (k == "aws_secret_access_key") c.secret_access_key = v;
    if (k == "aws_session_token") c.session_token = v;
  }
  if (c.access_key_id.empty() || c.secret_access_key.empty())
    throw Error(ErrorCode::Config, "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, [s3] "
                                   "access_key_id and secret_access_key in the config, or profile '" +
                                       profile + "' in " + (file.empty() ? "~/.aws/credentials" : file));
  hold_secret(c);
  return c;
}

std::vector<std::pair<std::string, std::string>> credentials_for_child() {
  Credentials c;
  try {
    c = credentials_from_environment();
  } catch (const Error&) {
    return {};  // the child finds none either, and says so itself
  }
  std::vector<std::pair<std::string, std::string>> out = {{"AWS_ACCESS_KEY_ID", c.access_key_id},
                                                          {"AWS_SECRET_ACCESS_KEY", c.secret_access_key}};
  if (!c.session_token.empty()) out.push_back({"AWS_SESSION_TOKEN", c.session_token});
  return out;
}

}  // namespace gitvault::s3
