#include "dist/internal/allreduce_algorithm.h"

#include <mpi.h>

#include <cstdlib>
#include <cstring>

namespace tapegrad::dist::internal {
namespace {

constexpr const char kVariable[] = "coll_libnbc_iallreduce_algorithm";
// libnbc's values for the variable.
constexpr int kRing = 1;
constexpr int kRecursiveDoubling = 4;
constexpr size_t kRingFromBytes = size_t{64} << 10;

// A handle on the variable, or none: under another MPI, when the user chose the
// algorithm, or when the tool interface refuses.
struct Variable {
  bool usable = false;
  MPI_T_cvar_handle handle;
  int current = -1;  // the value last written
};

Variable Find() {
  Variable v;
  if (std::getenv("OMPI_MCA_coll_libnbc_iallreduce_algorithm") != nullptr) return v;
  int provided = 0;
  if (MPI_T_init_thread(MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS) return v;
  int count = 0;
  if (MPI_T_cvar_get_num(&count) != MPI_SUCCESS) return v;
  for (int i = 0; i < count; ++i) {
    char name[128], description[1];
    int name_length = sizeof(name), description_length = 0;
    int verbosity = 0, bind = 0, scope = 0;
    MPI_Datatype type;
    MPI_T_enum enumtype;
    if (MPI_T_cvar_get_info(i, name, &name_length, &verbosity, &type, &enumtype,
                            description, &description_length, &bind,
                            &scope) != MPI_SUCCESS ||
        std::strcmp(name, kVariable) != 0 || type != MPI_INT) {
      continue;
    }
    int elements = 0;
    v.usable = MPI_T_cvar_handle_alloc(i, nullptr, &v.handle, &elements) == MPI_SUCCESS &&
               elements == 1;
    return v;
  }
  return v;
}

}  // namespace

void ChooseAllreduceAlgorithm(size_t bytes) {
  static Variable variable = Find();
  if (!variable.usable) return;
  const int algorithm = bytes < kRingFromBytes ? kRecursiveDoubling : kRing;
  if (algorithm == variable.current) return;
  if (MPI_T_cvar_write(variable.handle, &algorithm) == MPI_SUCCESS) {
    variable.current = algorithm;
  } else {
    variable.usable = false;  // leave Open MPI's own choice
  }
}

}  // namespace tapegrad::dist::internal
