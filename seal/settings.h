// How a destination is sealed, as configured ([encryption] in gitvault.toml, or the worker's
// options): paths and key texts, read and checked by destination/sealed_sink.h
// sealing_keys_for. Data only.
#pragma once

#include <string>
#include <vector>

namespace gitvault {

struct SealSettings {
  std::vector<std::string> recipients;       // "age1…"
  std::string recipients_file;               // one per line, as `age -R` reads it
  std::string identity_file;                 // restore side: AGE-SECRET-KEY-1… (0600)
  std::string signing_key;                   // this host's key; default kDefaultSigningKey
  std::vector<std::string> trusted_signers;  // "gvsigner1…" of other hosts
  std::string shadow_dir;                    // default: under kDefaultSealedState, per destination
  bool trust_any_signer = false;             // --trust-any-signer
  // Whether the destination is sealed: recipients are configured.
  bool enabled() const { return !recipients.empty() || !recipients_file.empty(); }
};

inline constexpr const char* kDefaultSigningKey = "/var/lib/gitvault/signing.key";
inline constexpr const char* kDefaultSealedState = "/var/lib/gitvault/sealed";

}  // namespace gitvault
