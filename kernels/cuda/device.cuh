// CUDA runtime helpers: error checking and device discovery. Host-only declarations.
#pragma once
#include <string>

namespace zotune::cuda {

// Number of usable CUDA devices; 0 when there is no driver or no device (never throws).
int device_count();
// "NVIDIA H100 80GB HBM3, sm_90, 79.1 GiB" for device `index`.
std::string device_description(int index);
// Throws zotune::Error with `what` and the CUDA error string when `status` is not cudaSuccess.
void check_status(int status, const char* what);

}  // namespace zotune::cuda
