// progress.h — a progress display for long copies and operations.
//
// On a terminal it redraws one line in place ("\r", at most every 100 ms):
//   clone  [##########..........]  50%  512 MiB / 1.00 GiB  210 MiB/s  ETA 2.4s
// Elsewhere (pipes, logs) it prints a plain line at every 10% step:
//   clone: 50% 512 MiB / 1.00 GiB 210 MiB/s
// Not thread-safe; call from one thread.
#ifndef VNAS_PLUGINS_CLI_PROGRESS_H_
#define VNAS_PLUGINS_CLI_PROGRESS_H_

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace vnas::cli {

class ProgressBar {
 public:
  struct Options {
    std::string label;         // e.g. "clone"
    bool terminal = false;     // redraw in place (see IsTerminal())
    int bar_width = 24;        // '#' cells of the bar
    absl::Duration redraw_interval = absl::Milliseconds(100);
    std::function<absl::Time()> clock = [] { return absl::Now(); };
  };

  // `out` must outlive the bar. `total` 0 means unknown (no percentage).
  ProgressBar(std::ostream* out, uint64_t total, Options options);
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void set_total(uint64_t total) { total_ = total; }

  // ProgressBar::Update()
  //
  // Records `done` units (bytes) and redraws when due.
  void Update(uint64_t done);

  // ProgressBar::Finish()
  //
  // Draws the final state followed by `suffix` (e.g. "done") and a newline.
  // Later calls do nothing.
  void Finish(absl::string_view suffix = "");

  // Whether the file descriptor is a terminal (isatty).
  static bool IsTerminal(int fd);

  // The text of one progress line (no "\r", no newline): label, bar (when
  // `bar_width` > 0 and the total is known), percent, done/total, rate and
  // ETA (when `elapsed_sec` > 0 and the rate is non-zero).
  static std::string Line(absl::string_view label, uint64_t done,
                          uint64_t total, double elapsed_sec, int bar_width);

 private:
  void Draw(bool final, absl::string_view suffix);

  std::ostream* out_;
  uint64_t total_;
  Options options_;
  absl::Time start_;
  absl::Time last_draw_ = absl::InfinitePast();
  uint64_t done_ = 0;
  int last_decile_ = -1;
  bool finished_ = false;
};

}  // namespace vnas::cli

#endif  // VNAS_PLUGINS_CLI_PROGRESS_H_
