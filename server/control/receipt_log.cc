#include "server/control/receipt_log.h"

#include <deque>

#include "storage/base/status_util.h"

namespace vnas::control {

ReceiptLog::ReceiptLog(storage::ExtentStore* store) : store_(store) {}

absl::StatusOr<uint64_t> ReceiptLog::Append(const v1::Receipt& receipt) {
  v1::Receipt copy = receipt;
  copy.set_seq(0);
  std::string bytes;
  if (!copy.SerializeToString(&bytes)) {
    return absl::InternalError("cannot serialize receipt");
  }
  VNAS_ASSIGN_OR_RETURN(uint64_t seq,
                        store_->AppendLog(kReceiptLogName, bytes, kMaxReceipts));
  {
    absl::MutexLock l(&mu_);
    ++appended_;
  }
  changes_.Publish();
  return seq;
}

absl::StatusOr<std::vector<v1::Receipt>> ReceiptLog::After(uint64_t after_seq,
                                                           uint64_t limit) {
  VNAS_ASSIGN_OR_RETURN(auto records,
                        store_->ReadLog(kReceiptLogName, after_seq, limit));
  std::vector<v1::Receipt> out;
  out.reserve(records.size());
  for (const auto& rec : records) {
    v1::Receipt r;
    if (!r.ParseFromString(rec.record)) {
      // A record we cannot parse is shown, not dropped.
      r.set_reason_text("unreadable receipt record");
    }
    r.set_seq(rec.seq);
    out.push_back(std::move(r));
  }
  return out;
}

absl::StatusOr<std::vector<v1::Receipt>> ReceiptLog::Last(uint64_t n,
                                                          uint64_t after_seq) {
  // The log keeps at most kMaxReceipts records: read them in pages, keep the
  // newest n.
  std::deque<v1::Receipt> keep;
  uint64_t cursor = after_seq;
  while (true) {
    VNAS_ASSIGN_OR_RETURN(auto page, After(cursor, 1000));
    if (page.empty()) break;
    for (auto& r : page) {
      cursor = r.seq();
      keep.push_back(std::move(r));
      if (keep.size() > n) keep.pop_front();
    }
    if (page.size() < 1000) break;
  }
  return std::vector<v1::Receipt>(std::make_move_iterator(keep.begin()),
                                  std::make_move_iterator(keep.end()));
}

uint64_t ReceiptLog::appended() const {
  absl::MutexLock l(&mu_);
  return appended_;
}

}  // namespace vnas::control
