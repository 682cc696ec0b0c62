// f32 convolutions on oneDNN: forward, backward data and backward weights
// primitives on the tensors' own NCHW / OIHW memory (no reorders).
//
// Primitives are made once per shape and thread and kept in a thread-local cache,
// with their memory objects, whose data handles are set per call; scratchpads are
// the caller's (a per-thread buffer that only grows). A steady state therefore
// allocates nothing and takes no lock. A shape oneDNN has no implementation for
// runs on the reference kernel.
#include <array>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "core/internal/registry.h"
#include "core/status_macros.h"
#include "kernels/cpu/conv.h"
#include "kernels/cpu/onednn.h"

namespace tapegrad::cpu {
namespace {

using Key = std::array<int64_t, 16>;

Key KeyOf(const ConvShape& s) {
  return {s.n,  s.c,  s.h,  s.w,  s.o,  s.oh, s.ow, s.kh,
          s.kw, s.sh, s.sw, s.ph, s.pw, s.dh, s.dw, s.groups};
}

// One convolution's primitives (made on first use of each pass) and the memory
// objects they share: src (x or dx), weights (w or dw), dst (y or dy).
class ConvPrimitives {
 public:
  ~ConvPrimitives() {
    for (Pass& p : passes_) {
      if (p.primitive != nullptr) dnnl_primitive_destroy(p.primitive);
      if (p.pd != nullptr) dnnl_primitive_desc_destroy(p.pd);
      if (p.scratch != nullptr) dnnl_memory_destroy(p.scratch);
    }
    for (dnnl_memory_t m : {src_, weights_, dst_}) {
      if (m != nullptr) dnnl_memory_destroy(m);
    }
  }

  // Makes the memory descriptors and objects; Unimplemented if oneDNN has no
  // forward primitive (every pass needs it as its hint).
  absl::Status Init(const ConvShape& s) {
    const dnnl_dims_t src = {s.n, s.c, s.h, s.w};
    const dnnl_dims_t dst = {s.n, s.o, s.oh, s.ow};
    TG_RETURN_IF_ERROR(
        Check(dnnl_memory_desc_init_by_tag(&src_md_, 4, src, dnnl_f32, dnnl_nchw)));
    TG_RETURN_IF_ERROR(
        Check(dnnl_memory_desc_init_by_tag(&dst_md_, 4, dst, dnnl_f32, dnnl_nchw)));
    if (s.groups == 1) {
      const dnnl_dims_t w = {s.o, s.c, s.kh, s.kw};
      TG_RETURN_IF_ERROR(
          Check(dnnl_memory_desc_init_by_tag(&weights_md_, 4, w, dnnl_f32, dnnl_oihw)));
    } else {
      const dnnl_dims_t w = {s.groups, s.group_filters(), s.group_channels(), s.kh, s.kw};
      TG_RETURN_IF_ERROR(
          Check(dnnl_memory_desc_init_by_tag(&weights_md_, 5, w, dnnl_f32, dnnl_goihw)));
    }
    for (auto [memory, md] :
         {std::pair{&src_, &src_md_}, std::pair{&weights_, &weights_md_},
          std::pair{&dst_, &dst_md_}}) {
      TG_RETURN_IF_ERROR(
          Check(dnnl_memory_create(memory, md, onednn::Engine(), DNNL_MEMORY_NONE)));
    }
    strides_[0] = s.sh;
    strides_[1] = s.sw;
    dilates_[0] = s.dh - 1;  // oneDNN counts the gaps
    dilates_[1] = s.dw - 1;
    padding_[0] = s.ph;
    padding_[1] = s.pw;
    // PyTorch pads only what the last window needs on the far side; oneDNN wants
    // the padding that makes its output size formula give oh and ow.
    padding_r_[0] = (s.oh - 1) * s.sh + (s.kh - 1) * s.dh + 1 - s.h - s.ph;
    padding_r_[1] = (s.ow - 1) * s.sw + (s.kw - 1) * s.dw + 1 - s.w - s.pw;
    return Make(ConvPass::kForward);
  }

  // Runs `pass` with x, w, y (or their gradients) at these addresses.
  absl::Status Run(ConvPass pass, void* x, void* w, void* y) {
    Pass& p = passes_[static_cast<int>(pass)];
    if (p.primitive == nullptr) TG_RETURN_IF_ERROR(Make(pass));
    void* scratch = ScratchBuffer(p.scratch_bytes);
    TG_RETURN_IF_ERROR(Check(dnnl_memory_set_data_handle(src_, x)));
    TG_RETURN_IF_ERROR(Check(dnnl_memory_set_data_handle(weights_, w)));
    TG_RETURN_IF_ERROR(Check(dnnl_memory_set_data_handle(dst_, y)));
    TG_RETURN_IF_ERROR(Check(dnnl_memory_set_data_handle(p.scratch, scratch)));
    const int src_arg = pass == ConvPass::kInputGrad ? DNNL_ARG_DIFF_SRC : DNNL_ARG_SRC;
    const int weights_arg =
        pass == ConvPass::kWeightGrad ? DNNL_ARG_DIFF_WEIGHTS : DNNL_ARG_WEIGHTS;
    const int dst_arg = pass == ConvPass::kForward ? DNNL_ARG_DST : DNNL_ARG_DIFF_DST;
    const dnnl_exec_arg_t args[] = {{src_arg, src_},
                                    {weights_arg, weights_},
                                    {dst_arg, dst_},
                                    {DNNL_ARG_SCRATCHPAD, p.scratch}};
    onednn::CallScope scope;
    TG_RETURN_IF_ERROR(
        Check(dnnl_primitive_execute(p.primitive, onednn::Stream(), 4, args)));
    return Check(dnnl_stream_wait(onednn::Stream()));
  }

 private:
  struct Pass {
    dnnl_primitive_desc_t pd = nullptr;
    dnnl_primitive_t primitive = nullptr;
    dnnl_memory_t scratch = nullptr;
    size_t scratch_bytes = 0;
  };

  static absl::Status Check(dnnl_status_t s) { return onednn::Check(s, "conv2d"); }

  static void* ScratchBuffer(size_t bytes) {
    thread_local std::vector<char> buffer;
    if (buffer.size() < bytes) buffer.resize(bytes);
    return buffer.empty() ? nullptr : buffer.data();
  }

  absl::Status Make(ConvPass pass) {
    dnnl_convolution_desc_t desc;
    const dnnl_alg_kind_t alg = dnnl_convolution_direct;
    dnnl_status_t made;
    switch (pass) {
      case ConvPass::kForward:
        made = dnnl_dilated_convolution_forward_desc_init(
            &desc, dnnl_forward_training, alg, &src_md_, &weights_md_, nullptr, &dst_md_,
            strides_, dilates_, padding_, padding_r_);
        break;
      case ConvPass::kInputGrad:
        made = dnnl_dilated_convolution_backward_data_desc_init(
            &desc, alg, &src_md_, &weights_md_, &dst_md_, strides_, dilates_, padding_,
            padding_r_);
        break;
      case ConvPass::kWeightGrad:
        made = dnnl_dilated_convolution_backward_weights_desc_init(
            &desc, alg, &src_md_, &weights_md_, nullptr, &dst_md_, strides_, dilates_,
            padding_, padding_r_);
        break;
    }
    TG_RETURN_IF_ERROR(Check(made));
    dnnl_primitive_attr_t attr;
    TG_RETURN_IF_ERROR(Check(dnnl_primitive_attr_create(&attr)));
    dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    Pass& p = passes_[static_cast<int>(pass)];
    const dnnl_primitive_desc_t hint =
        pass == ConvPass::kForward ? nullptr : passes_[0].pd;
    made = dnnl_primitive_desc_create(&p.pd, &desc, attr, onednn::Engine(), hint);
    dnnl_primitive_attr_destroy(attr);
    if (made == dnnl_unimplemented) {
      return absl::UnimplementedError("conv2d: oneDNN has no primitive for this shape");
    }
    TG_RETURN_IF_ERROR(Check(made));
    const dnnl_memory_desc_t* scratch_md =
        dnnl_primitive_desc_query_md(p.pd, dnnl_query_scratchpad_md, 0);
    p.scratch_bytes = dnnl_memory_desc_get_size(scratch_md);
    TG_RETURN_IF_ERROR(Check(
        dnnl_memory_create(&p.scratch, scratch_md, onednn::Engine(), DNNL_MEMORY_NONE)));
    return Check(dnnl_primitive_create(&p.primitive, p.pd));
  }

  dnnl_memory_desc_t src_md_, weights_md_, dst_md_;
  dnnl_memory_t src_ = nullptr, weights_ = nullptr, dst_ = nullptr;
  dnnl_dims_t strides_, dilates_, padding_, padding_r_;
  std::array<Pass, 3> passes_;
};

// This thread's primitives for `s`, or null if oneDNN has none (then the
// reference kernel runs, and the answer is cached too).
absl::StatusOr<ConvPrimitives*> PrimitivesFor(const ConvShape& s) {
  thread_local absl::flat_hash_map<Key, std::unique_ptr<ConvPrimitives>> cache;
  auto [it, fresh] = cache.try_emplace(KeyOf(s));
  if (fresh) {
    auto made = std::make_unique<ConvPrimitives>();
    absl::Status status = made->Init(s);
    if (status.ok()) {
      it->second = std::move(made);
    } else if (!absl::IsUnimplemented(status)) {
      cache.erase(it);
      return status;
    }
  }
  return it->second.get();
}

template <ConvPass kPass>
absl::Status OneDnnConv2d(const KernelCall& c) {
  const ConvShape s = ShapeOf(c, kPass);
  if (s.n == 0 || s.c == 0 || s.o == 0 || onednn::Engine() == nullptr ||
      onednn::Stream() == nullptr) {
    return ReferenceConv2d<float>(c, kPass);
  }
  TG_ASSIGN_OR_RETURN(ConvPrimitives * primitives, PrimitivesFor(s));
  if (primitives == nullptr) return ReferenceConv2d<float>(c, kPass);
  auto data = [](const TensorImpl* t) { return static_cast<void*>(t->data()); };
  void* const out = data(c.outputs[0]);
  switch (kPass) {
    case ConvPass::kForward:
      return primitives->Run(kPass, data(c.inputs[0]), data(c.inputs[1]), out);
    case ConvPass::kInputGrad:
      return primitives->Run(kPass, out, data(c.inputs[1]), data(c.inputs[0]));
    case ConvPass::kWeightGrad:
      break;
  }
  return primitives->Run(kPass, data(c.inputs[1]), out, data(c.inputs[0]));
}

TAPEGRAD_REGISTER_KERNEL(kConv2d, kF32, kCpu, OneDnnConv2d<ConvPass::kForward>);
TAPEGRAD_REGISTER_KERNEL(kConv2dInputGrad, kF32, kCpu,
                         OneDnnConv2d<ConvPass::kInputGrad>);
TAPEGRAD_REGISTER_KERNEL(kConv2dWeightGrad, kF32, kCpu,
                         OneDnnConv2d<ConvPass::kWeightGrad>);

}  // namespace
}  // namespace tapegrad::cpu
