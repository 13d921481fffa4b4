#include "plugins/cli/progress.h"

#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "plugins/cli/size.h"

namespace vnas::cli {

ProgressBar::ProgressBar(std::ostream* out, uint64_t total, Options options)
    : out_(out), total_(total), options_(std::move(options)) {
  start_ = options_.clock();
}

bool ProgressBar::IsTerminal(int fd) { return isatty(fd) == 1; }

std::string ProgressBar::Line(absl::string_view label, uint64_t done,
                              uint64_t total, double elapsed_sec,
                              int bar_width) {
  std::string line(label);
  const double rate = elapsed_sec > 0 ? done / elapsed_sec : 0;
  if (total > 0) {
    const uint64_t shown = std::min(done, total);
    const double frac = static_cast<double>(shown) / total;
    if (bar_width > 0) {
      const int filled = static_cast<int>(frac * bar_width);
      absl::StrAppend(&line, "  [", std::string(filled, '#'),
                      std::string(bar_width - filled, '.'), "]");
    }
    absl::StrAppend(&line, absl::StrFormat("  %3d%%", static_cast<int>(frac * 100)),
                    "  ", FormatSize(done), " / ", FormatSize(total));
    if (rate > 0) {
      absl::StrAppend(&line, "  ", FormatRate(rate));
      if (done < total) {
        absl::StrAppend(&line, "  ETA ", FormatDuration((total - done) / rate));
      }
    }
  } else {
    absl::StrAppend(&line, "  ", FormatSize(done));
    if (rate > 0) absl::StrAppend(&line, "  ", FormatRate(rate));
  }
  return line;
}

void ProgressBar::Update(uint64_t done) {
  if (finished_) return;
  done_ = done;
  const absl::Time now = options_.clock();
  if (options_.terminal) {
    if (now - last_draw_ < options_.redraw_interval) return;
    last_draw_ = now;
    Draw(false, "");
    return;
  }
  if (total_ == 0) return;
  const int decile = static_cast<int>(std::min(done, total_) * 10 / total_);
  if (decile <= last_decile_ || decile >= 10) return;  // 100% at Finish()
  last_decile_ = decile;
  Draw(false, "");
}

void ProgressBar::Finish(absl::string_view suffix) {
  if (finished_) return;
  finished_ = true;
  Draw(true, suffix);
}

void ProgressBar::Draw(bool final, absl::string_view suffix) {
  const double elapsed = absl::ToDoubleSeconds(options_.clock() - start_);
  if (options_.terminal) {
    *out_ << "\r" << Line(options_.label, done_, total_, elapsed, options_.bar_width);
    if (!suffix.empty()) *out_ << "  " << suffix;
    *out_ << "\x1b[K";
    if (final) *out_ << "\n";
  } else {
    std::string line = Line(absl::StrCat(options_.label, ":"), done_, total_,
                            elapsed, /*bar_width=*/0);
    // Plain lines use single spaces.
    std::string squeezed;
    for (char c : line) {
      if (c == ' ' && !squeezed.empty() && squeezed.back() == ' ') continue;
      squeezed += c;
    }
    *out_ << squeezed;
    if (!suffix.empty()) *out_ << " " << suffix;
    *out_ << "\n";
  }
  out_->flush();
}

}  // namespace vnas::cli
