// Writes the deterministic sample run log that tests/python/check_run_log.py reads back with
// h5py/pandas (through analysis/zotune_log.py). The two files share the formulas below: change
// them together.
//
// 30 rows, row s (0-based) is optimizer step 2s:
//   loss 1/(s+1), lr 1e-3, eps 1e-3 * (s+1), ms 10+s, peak_memory_bytes 1e9+s,
//   queries 2 + s/10 (integer division), noise_sigma 0.5*s from row 10 on (NaN before),
//   finite_differences [s + 0.5q for q < queries], posterior_mean [s, -s] on even rows only.
// Updates: per row, one per query q: coefficient -0.01*(s+1)*(q+1), seed 2^63 + 10s + q.
// Eval after rows 9, 19, 29 (steps 18, 38, 58): dev_accuracy (s+1)/30; test_f1 0.9 at row 29.
// Summary: status "completed", final_loss 1/30, best_step 58.
// Chunks of 8 rows and a flush every 4 steps, so reads cross chunk and flush boundaries.
#include <cstdio>
#include <cstdint>
#include <string>
#include <vector>

#include "core/log/run_log.h"
#include "core/util/error.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT.h5\n", argv[0]);
    return 2;
  }
  try {
    zotune::RunProvenance provenance;
    provenance.zotune_version = "0.1.0";
    provenance.git_revision = "abc1234";
    provenance.hostnames = {"node01", "node02"};
    provenance.devices = {"NVIDIA H100 80GB HBM3", "NVIDIA H100 80GB HBM3"};
    provenance.ranks = 2;
    provenance.started_utc = "2025-03-01T12:00:00Z";
    provenance.command_line = "zotune train sample.yaml";
    zotune::RunLogOptions options;
    options.overwrite = true;
    options.chunk_rows = 8;
    options.flush_every_steps = 4;
    zotune::RunLog log =
        zotune::RunLog::create(argv[1], "model: tiny\noptimizer:\n  name: bszo\nsteps: 30\n", provenance, options);
    for (int64_t s = 0; s < 30; ++s) {
      const int64_t step = 2 * s;
      const int64_t queries = 2 + s / 10;
      std::vector<zotune::UpdateRecord> updates;
      std::vector<double> finite_differences;
      for (int32_t q = 0; q < queries; ++q) {
        updates.push_back({q, -0.01 * (s + 1) * (q + 1), (uint64_t{1} << 63) + static_cast<uint64_t>(10 * s + q)});
        finite_differences.push_back(s + 0.5 * q);
      }
      log.log_updates(step, updates);
      std::map<std::string, double> scalars = {{"loss", 1.0 / (s + 1)},
                                               {"lr", 1e-3},
                                               {"eps", 1e-3 * (s + 1)},
                                               {"ms", 10.0 + s},
                                               {"peak_memory_bytes", 1e9 + s},
                                               {"queries", static_cast<double>(queries)}};
      if (s >= 10) scalars["noise_sigma"] = 0.5 * s;
      std::map<std::string, std::vector<double>> vectors = {{"finite_differences", finite_differences}};
      if (s % 2 == 0) vectors["posterior_mean"] = {1.0 * s, -1.0 * s};
      log.log_step(step, scalars, vectors);
      if (s % 10 == 9) {
        std::map<std::string, double> metrics = {{"dev_accuracy", (s + 1) / 30.0}};
        if (s == 29) metrics["test_f1"] = 0.9;
        log.log_eval(step, metrics);
      }
    }
    log.set_summary("status", "completed");
    log.set_summary("final_loss", 1.0 / 30);
    log.set_summary("best_step", 58.0);
    log.close();
  } catch (const zotune::Error& e) {
    std::fprintf(stderr, "write_run_log_sample: %s\n", e.what());
    return 1;
  }
  return 0;
}
