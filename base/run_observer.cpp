#include "base/run_observer.h"

namespace gitvault {

const char* to_string(ItemStatus s) {
  switch (s) {
    case ItemStatus::Pending: return "pending";
    case ItemStatus::Ok: return "ok";
    case ItemStatus::Empty: return "empty";
    case ItemStatus::Failed: return "failed";
    case ItemStatus::Skipped: return "skipped";
    case ItemStatus::NotAttempted: return "not_attempted";
  }
  return "?";
}

RunObserver& silent_observer() {
  static RunObserver silent;
  return silent;
}

}  // namespace gitvault
