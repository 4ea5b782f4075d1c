# Sourced by the scripts that pack runs onto one GPU under CUDA MPS (scripts/device_paper_grid.sh,
# experiments/benchmarks/run_packing_check.sh). mps_client_count prints how many client processes
# the MPS daemon at $CUDA_MPS_PIPE_DIRECTORY lists now: runs that started under MPS but show 0
# did not reach the daemon and take turns on the GPU (time slicing) instead of running side by side.
mps_client_count() {
  local count=0 server
  for server in $(echo get_server_list | nvidia-cuda-mps-control 2> /dev/null); do
    count=$(( count + $(echo "get_client_list $server" | nvidia-cuda-mps-control 2> /dev/null | wc -l) ))
  done
  echo "$count"
}
