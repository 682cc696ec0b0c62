// f32 convolutions on oneDNN: forward and backward weights primitives (each with
// or without a bias, or its gradient) and backward data. Each pass lets oneDNN choose its
// operands' layouts (format "any"): on AVX-512 it picks blocked layouts (nChw16c) and its
// direct JIT kernels, about twice as fast as the im2col + GEMM kernels it must use on
// plain NCHW. Operands are reordered from and to the tensors' NCHW / OIHW memory around
// each pass where the chosen layout differs.
//
// Primitives are made once per shape, thread and team size and kept in a
// thread-local cache, with their memory objects, whose data handles are set per
// call; scratchpads and blocked copies live in the caller's per-thread buffer,
// which only grows. A steady state therefore allocates nothing of its own and
// takes no lock. A shape oneDNN has no implementation for runs on the reference
// kernel.
//
// Note [Team size at creation]: oneDNN 2.6's convolutions split their work for
// the OpenMP team size current when the primitive is made, and run that many
// threads whatever the team size at execution. So a primitive is made inside the
// call's onednn::CallScope, which sets the team, and cached under that size: one
// made for a 1-thread call (small work, another call holding the threads, a
// 1-thread phase of the program) would otherwise keep a later 2-thread step on
// one thread (the CNN step ran 16 ms instead of 12.5 after a 1-thread run), and
// one made for 2 threads would run 2 where the call was given 1.
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

using Key = std::array<int64_t, 17>;

Key KeyOf(const ConvShape& s, int threads) {
  return {s.n,  s.c,  s.h,  s.w,  s.o,  s.oh, s.ow,     s.kh,   s.kw,
          s.sh, s.sw, s.ph, s.pw, s.dh, s.dw, s.groups, threads};
}

// Multiply-adds of one pass (each pass does the forward's count).
int64_t MultiplyAdds(const ConvShape& s) {
  return s.n * s.o * s.oh * s.ow * s.group_channels() * s.kh * s.kw;
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
      for (Operand& o : p.operands) {
        if (o.reorder != nullptr) dnnl_primitive_destroy(o.reorder);
        if (o.blocked != nullptr) dnnl_memory_destroy(o.blocked);
      }
    }
    for (dnnl_memory_t m : {src_, weights_, dst_, bias_}) {
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
    const dnnl_dims_t bias = {s.o};
    TG_RETURN_IF_ERROR(
        Check(dnnl_memory_desc_init_by_tag(&bias_md_, 1, bias, dnnl_f32, dnnl_a)));
    for (auto [memory, md] :
         {std::pair{&src_, &src_md_}, std::pair{&weights_, &weights_md_},
          std::pair{&dst_, &dst_md_}, std::pair{&bias_, &bias_md_}}) {
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
    return Make(ConvPass::kForward, /*with_bias=*/false);
  }

  // Runs `pass` with x, w, y (or their gradients) at these addresses; if `bias`
  // is not null, the forward pass adds it [O] to every filter's plane and the
  // weight-gradient pass writes the bias gradient there. Called inside the
  // onednn::CallScope these primitives were made under.
  absl::Status Run(ConvPass pass, void* x, void* w, void* y, void* bias = nullptr) {
    const bool with_bias = bias != nullptr;
    Pass& p = passes_[Index(pass, with_bias)];
    if (p.primitive == nullptr) TG_RETURN_IF_ERROR(Make(pass, with_bias));
    char* buffer = static_cast<char*>(ScratchBuffer(p.buffer_bytes));
    const dnnl_memory_t user[] = {src_, weights_, dst_};
    void* const data[] = {x, w, y};
    for (int k = 0; k < 3; ++k) {
      TG_RETURN_IF_ERROR(Check(dnnl_memory_set_data_handle(user[k], data[k])));
      Operand& o = p.operands[k];
      if (o.blocked != nullptr) {
        TG_RETURN_IF_ERROR(
            Check(dnnl_memory_set_data_handle(o.blocked, buffer + o.offset)));
      }
    }
    TG_RETURN_IF_ERROR(Check(dnnl_memory_set_data_handle(p.scratch, buffer)));
    const int output = OutputRole(pass);
    for (int k = 0; k < 3; ++k) {
      if (k != output) TG_RETURN_IF_ERROR(Reorder(p.operands[k], user[k], /*in=*/true));
    }
    auto memory = [&](int k) {
      return p.operands[k].blocked != nullptr ? p.operands[k].blocked : user[k];
    };
    const int src_arg = pass == ConvPass::kInputGrad ? DNNL_ARG_DIFF_SRC : DNNL_ARG_SRC;
    const int weights_arg =
        pass == ConvPass::kWeightGrad ? DNNL_ARG_DIFF_WEIGHTS : DNNL_ARG_WEIGHTS;
    const int dst_arg = pass == ConvPass::kForward ? DNNL_ARG_DST : DNNL_ARG_DIFF_DST;
    if (with_bias) TG_RETURN_IF_ERROR(Check(dnnl_memory_set_data_handle(bias_, bias)));
    const dnnl_exec_arg_t args[] = {
        {src_arg, memory(0)},
        {weights_arg, memory(1)},
        {dst_arg, memory(2)},
        {DNNL_ARG_SCRATCHPAD, p.scratch},
        {pass == ConvPass::kForward ? DNNL_ARG_BIAS : DNNL_ARG_DIFF_BIAS, bias_}};
    TG_RETURN_IF_ERROR(Check(
        dnnl_primitive_execute(p.primitive, onednn::Stream(), with_bias ? 5 : 4, args)));
    TG_RETURN_IF_ERROR(Reorder(p.operands[output], user[output], /*in=*/false));
    return Check(dnnl_stream_wait(onednn::Stream()));
  }

 private:
  // One of a pass's three operands (0: src or its gradient, 1: weights or theirs,
  // 2: dst or its gradient) in the layout the primitive chose: where that differs
  // from the tensor's, a blocked copy at `offset` in the buffer and the reorder
  // that fills it (an input) or empties it (the output).
  struct Operand {
    dnnl_memory_t blocked = nullptr;
    dnnl_primitive_t reorder = nullptr;
    size_t offset = 0;
  };
  struct Pass {
    dnnl_primitive_desc_t pd = nullptr;
    dnnl_primitive_t primitive = nullptr;
    dnnl_memory_t scratch = nullptr;  // at the buffer's start
    std::array<Operand, 3> operands;
    size_t buffer_bytes = 0;  // scratchpad, then the blocked copies
  };

  // passes_'s slot of a pass: the three passes, then the forward and the weight
  // gradient with a bias.
  static int Index(ConvPass pass, bool with_bias) {
    if (!with_bias) return static_cast<int>(pass);
    return pass == ConvPass::kForward ? 3 : 4;
  }

  // The operand a pass writes: dst, src's gradient or the weights' gradient.
  static int OutputRole(ConvPass pass) {
    switch (pass) {
      case ConvPass::kForward:
        return 2;
      case ConvPass::kInputGrad:
        return 0;
      case ConvPass::kWeightGrad:
        break;
    }
    return 1;
  }

  static absl::Status Reorder(const Operand& o, dnnl_memory_t user, bool in) {
    if (o.reorder == nullptr) return absl::OkStatus();
    const dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, in ? user : o.blocked},
                                    {DNNL_ARG_TO, in ? o.blocked : user}};
    return Check(dnnl_primitive_execute(o.reorder, onednn::Stream(), 2, args));
  }

  static absl::Status Check(dnnl_status_t s) { return onednn::Check(s, "conv2d"); }

  // The calling thread's buffer, 64-byte aligned, of at least `bytes`.
  static void* ScratchBuffer(size_t bytes) {
    thread_local std::vector<char> buffer;
    if (buffer.size() < bytes + 64) buffer.resize(bytes + 64);
    const auto at = reinterpret_cast<uintptr_t>(buffer.data());
    return buffer.data() + (AlignUp(at) - at);
  }

  absl::Status Make(ConvPass pass, bool with_bias) {
    dnnl_memory_desc_t any[3];
    for (int k = 0; k < 3; ++k) {
      const dnnl_memory_desc_t& user = *UserMd(k);
      TG_RETURN_IF_ERROR(Check(dnnl_memory_desc_init_by_tag(
          &any[k], user.ndims, user.dims, dnnl_f32, dnnl_format_tag_any)));
    }
    dnnl_memory_desc_t &src_md = any[0], &weights_md = any[1], &dst_md = any[2];
    dnnl_convolution_desc_t desc;
    const dnnl_alg_kind_t alg = dnnl_convolution_direct;
    dnnl_status_t made;
    switch (pass) {
      case ConvPass::kForward:
        made = dnnl_dilated_convolution_forward_desc_init(
            &desc, dnnl_forward_training, alg, &src_md, &weights_md,
            with_bias ? &bias_md_ : nullptr, &dst_md, strides_, dilates_, padding_,
            padding_r_);
        break;
      case ConvPass::kInputGrad:
        made = dnnl_dilated_convolution_backward_data_desc_init(
            &desc, alg, &src_md, &weights_md, &dst_md, strides_, dilates_, padding_,
            padding_r_);
        break;
      case ConvPass::kWeightGrad:
        made = dnnl_dilated_convolution_backward_weights_desc_init(
            &desc, alg, &src_md, &weights_md, with_bias ? &bias_md_ : nullptr, &dst_md,
            strides_, dilates_, padding_, padding_r_);
        break;
    }
    TG_RETURN_IF_ERROR(Check(made));
    dnnl_primitive_attr_t attr;
    TG_RETURN_IF_ERROR(Check(dnnl_primitive_attr_create(&attr)));
    dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    Pass& p = passes_[Index(pass, with_bias)];
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
    p.buffer_bytes = AlignUp(dnnl_memory_desc_get_size(scratch_md));
    TG_RETURN_IF_ERROR(Check(
        dnnl_memory_create(&p.scratch, scratch_md, onednn::Engine(), DNNL_MEMORY_NONE)));
    const int output = OutputRole(pass);
    for (int k = 0; k < 3; ++k) {
      const dnnl_query_t query = OperandQuery(pass, k);
      const dnnl_memory_desc_t* chosen = dnnl_primitive_desc_query_md(p.pd, query, 0);
      if (chosen == nullptr || dnnl_memory_desc_equal(chosen, UserMd(k))) continue;
      Operand& o = p.operands[k];
      o.offset = p.buffer_bytes;
      p.buffer_bytes += AlignUp(dnnl_memory_desc_get_size(chosen));
      TG_RETURN_IF_ERROR(Check(
          dnnl_memory_create(&o.blocked, chosen, onednn::Engine(), DNNL_MEMORY_NONE)));
      const bool in = k != output;
      dnnl_primitive_desc_t reorder_pd;
      TG_RETURN_IF_ERROR(Check(dnnl_reorder_primitive_desc_create(
          &reorder_pd, in ? UserMd(k) : chosen, onednn::Engine(), in ? chosen : UserMd(k),
          onednn::Engine(), nullptr)));
      const dnnl_status_t created = dnnl_primitive_create(&o.reorder, reorder_pd);
      dnnl_primitive_desc_destroy(reorder_pd);
      TG_RETURN_IF_ERROR(Check(created));
    }
    return Check(dnnl_primitive_create(&p.primitive, p.pd));
  }

  const dnnl_memory_desc_t* UserMd(int k) const {
    const dnnl_memory_desc_t* mds[] = {&src_md_, &weights_md_, &dst_md_};
    return mds[k];
  }

  // What to ask a pass's descriptor for operand k's layout.
  static dnnl_query_t OperandQuery(ConvPass pass, int k) {
    const bool grad = k == OutputRole(pass);
    switch (k) {
      case 0:
        return grad ? dnnl_query_diff_src_md : dnnl_query_src_md;
      case 1:
        return grad ? dnnl_query_diff_weights_md : dnnl_query_weights_md;
    }
    return pass == ConvPass::kForward ? dnnl_query_dst_md : dnnl_query_diff_dst_md;
  }

  // Blocked copies start on cache lines (oneDNN asks 64-byte alignment).
  static size_t AlignUp(size_t bytes) { return (bytes + 63) / 64 * 64; }

  dnnl_memory_desc_t src_md_, weights_md_, dst_md_, bias_md_;
  dnnl_memory_t src_ = nullptr, weights_ = nullptr, dst_ = nullptr, bias_ = nullptr;
  dnnl_dims_t strides_, dilates_, padding_, padding_r_;
  std::array<Pass, 5> passes_;
};

// This thread's primitives for `s` on `scope`'s team, or null if oneDNN has none
// (then the reference kernel runs, and the answer is cached too). Made inside
// the scope (Note [Team size at creation]).
absl::StatusOr<ConvPrimitives*> PrimitivesFor(const ConvShape& s,
                                              const onednn::CallScope& scope) {
  thread_local absl::flat_hash_map<Key, std::unique_ptr<ConvPrimitives>> cache;
  auto [it, fresh] = cache.try_emplace(KeyOf(s, scope.threads()));
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
  onednn::CallScope scope(MultiplyAdds(s));
  TG_ASSIGN_OR_RETURN(ConvPrimitives * primitives, PrimitivesFor(s, scope));
  if (primitives == nullptr) return ReferenceConv2d<float>(c, kPass);
  auto data = [](const TensorImpl* t) { return static_cast<void*>(t->data()); };
  void* const out = data(c.outputs[0]);
  switch (kPass) {
    case ConvPass::kForward:
      return primitives->Run(kPass, data(c.inputs[0]), data(c.inputs[1]), out,
                             c.inputs.size() > 2 ? data(c.inputs[2]) : nullptr);
    case ConvPass::kInputGrad:
      return primitives->Run(kPass, out, data(c.inputs[1]), data(c.inputs[0]));
    case ConvPass::kWeightGrad:
      break;
  }
  return primitives->Run(kPass, data(c.inputs[1]), out, data(c.inputs[0]),
                         c.outputs.size() > 1 ? data(c.outputs[1]) : nullptr);
}

TAPEGRAD_REGISTER_KERNEL(kConv2d, kF32, kCpu, OneDnnConv2d<ConvPass::kForward>);
TAPEGRAD_REGISTER_KERNEL(kConv2dInputGrad, kF32, kCpu,
                         OneDnnConv2d<ConvPass::kInputGrad>);
TAPEGRAD_REGISTER_KERNEL(kConv2dWeightGrad, kF32, kCpu,
                         OneDnnConv2d<ConvPass::kWeightGrad>);

}  // namespace
}  // namespace tapegrad::cpu
