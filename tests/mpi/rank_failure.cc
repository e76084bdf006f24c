// A job in which one rank fails midway (run under mpirun by CTest): the job
// must end with that rank's error and a non-zero exit status, never hang.
//   rank_failure after-exchange  the last rank throws after its third batch
//                                was applied (the ranks are out of step)
//   rank_failure bad-argument    the last rank passes a negative half-life
//                                to its third batch (every rank learns of it)
// Either way main does what `heatkit` does: the failing rank ends the job
// with abort_job, a rank that learned of it from PeerRankFailed waits.
#include <mpi.h>

#include <cstdint>
#include <cstdio>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include <heatkit/distributed_registry.h>

namespace {

void run(const std::string& mode) {
  int rank = 0;
  int size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  heatkit::RegistryOptions options;
  options.cap = 0;
  heatkit::DistributedHeatRegistry registry(MPI_COMM_WORLD, options);
  std::vector<std::uint64_t> keys(1000);
  for (int batch = 0; batch < 1000; ++batch) {
    std::iota(keys.begin(), keys.end(), static_cast<std::uint64_t>(batch) * 1000);
    const bool failing = rank == size - 1 && batch == 3;
    const heatkit::Duration half_life =
        failing && mode == "bad-argument" ? heatkit::Duration(-5) : std::chrono::seconds(1);
    registry.bump_batch(keys, half_life, heatkit::instant_from_ns(batch));
    if (failing && mode == "after-exchange") throw std::runtime_error("injected failure after batch 3");
  }
  throw std::logic_error("the failing rank went on");
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode != "after-exchange" && mode != "bad-argument") {
    std::fprintf(stderr, "usage: rank_failure after-exchange|bad-argument\n");
    MPI_Finalize();
    return 2;
  }
  try {
    run(mode);
  } catch (const heatkit::PeerRankFailed&) {
    MPI_Barrier(MPI_COMM_WORLD);  // the failing rank aborts the job
  } catch (const std::exception& e) {
    heatkit::abort_job(MPI_COMM_WORLD, e.what(), 3);
  }
  MPI_Finalize();
  return 0;
}
