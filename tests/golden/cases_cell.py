# Golden cases for cells.c and embeddingbag.c: RNNCell, GRUCell (one step
# from a zero hidden state, as cell(x)), EmbeddingBag over 2-D index input.
# Run in gen.py's namespace (see the end of gen.py).
own("cell_")

# ---- RNNCell -----------------------------------------------------------------------
case("cell_rnncell", layers("RNNCell: [8, 6]"), randn("cell_rnncell", 5, 8))
# every argument non-default
case("cell_rnncell_args", layers("RNNCell: {input_size: 8, hidden_size: 6, bias: false, nonlinearity: relu}"),
     randn("cell_rnncell_args", 5, 8))
case("cell_rnncell_relu", layers("RNNCell: [8, 6, true, relu]"), randn("cell_rnncell_relu", 4, 8))
case("cell_rnncell_unbatched", layers("RNNCell: [7, 5]"), randn("cell_rnncell_unbatched", 7))
# long dot products (the 16-lane loop and its tail), a batch larger than a task
case("cell_rnncell_wide", layers("RNNCell: [77, 40]"), randn("cell_rnncell_wide", 21, 77), scale="fan_in")
case("cell_rnncell_mlp", layers("Linear: [10, 12]", "RNNCell: [12, 9, true, relu]", "GRUCell: [9, 4]"),
     randn("cell_rnncell_mlp", 6, 10))

# ---- GRUCell -----------------------------------------------------------------------
case("cell_grucell", layers("GRUCell: [8, 6]"), randn("cell_grucell", 5, 8))
case("cell_grucell_args", layers("GRUCell: {input_size: 8, hidden_size: 6, bias: false}"),
     randn("cell_grucell_args", 5, 8))
case("cell_grucell_unbatched", layers("GRUCell: [9, 3]"), randn("cell_grucell_unbatched", 9))
case("cell_grucell_wide", layers("GRUCell: [50, 33]"), randn("cell_grucell_wide", 19, 50))
case("cell_grucell_empty_batch", layers("GRUCell: [4, 3]"), np.zeros((0, 4), np.float32))

# ---- default initialisation (no weights file) ------------------------------------------
# The values of PyTorch's uniform(-1/sqrt(H), 1/sqrt(H)) draws cannot match
# seqrun's stream, so these pin the parameters with init: (the spec's
# per-type override, applied over the defaults) and run without -w; the
# default distribution itself is checked through --save-state by hand.
case("cell_rnncell_init", L(
    "init:",
    "  RNNCell: {weight_ih: {constant: {val: 0.05}}, weight_hh: ones, bias_ih: {constant: {val: -0.1}},",
    "            bias_hh: {constant: {val: 0.3}}}",
    "layers:",
    "  - RNNCell: [6, 4]"),
    randn("cell_rnncell_init", 3, 6), weights=False)
case("cell_grucell_init", L(
    "init:",
    "  GRUCell: {weight_ih: {constant: {val: -0.07}}, weight_hh: zeros, bias_ih: {constant: {val: 0.2}},",
    "            bias_hh: {constant: {val: -0.4}}}",
    "layers:",
    "  - GRUCell: {input_size: 5, hidden_size: 3}"),
    randn("cell_grucell_init", 4, 5), weights=False)
case("cell_grucell_init_nobias", L(
    "init:",
    "  GRUCell: {weight_ih: {constant: {val: 0.11}}}",
    "layers:",
    "  - GRUCell: {input_size: 5, hidden_size: 3, bias: false}"),
    randn("cell_grucell_init_nobias", 5), weights=False)

# ---- EmbeddingBag -----------------------------------------------------------------------
case("cell_embbag", layers("EmbeddingBag: [10, 4]"), idx("cell_embbag", 10, 3, 5))
case("cell_embbag_sum", layers("EmbeddingBag: {num_embeddings: 10, embedding_dim: 4, mode: sum}"),
     idx("cell_embbag_sum", 10, 4, 3))
case("cell_embbag_max", layers("EmbeddingBag: {num_embeddings: 10, embedding_dim: 4, mode: max}"),
     idx("cell_embbag_max", 10, 4, 6))
case("cell_embbag_int32", layers("EmbeddingBag: {num_embeddings: 12, embedding_dim: 5, mode: sum}"),
     idx("cell_embbag_int32", 12, 3, 4, dtype=np.int32))
case("cell_embbag_int32_max", layers("EmbeddingBag: {num_embeddings: 12, embedding_dim: 5, mode: max}"),
     idx("cell_embbag_int32_max", 12, 3, 4, dtype=np.int32))
# padding_idx entries are left out of their bag: mean divides by the rest, a
# bag of padding only is zeros (in every mode)
_pad = np.array([[2, 0, 2, 5], [2, 2, 2, 2], [1, 3, 2, 4], [0, 0, 0, 2]], np.int64)
case("cell_embbag_padding_mean", layers("EmbeddingBag: {num_embeddings: 6, embedding_dim: 3, padding_idx: 2}"),
     _pad)
case("cell_embbag_padding_sum", layers("EmbeddingBag: {num_embeddings: 6, embedding_dim: 3, mode: sum, "
                                       "padding_idx: 2}"), _pad)
case("cell_embbag_padding_max", layers("EmbeddingBag: {num_embeddings: 6, embedding_dim: 3, mode: max, "
                                       "padding_idx: -4}"), _pad)
case("cell_embbag_padding_int32", layers("EmbeddingBag: {num_embeddings: 6, embedding_dim: 3, mode: mean, "
                                         "padding_idx: 2}"), _pad.astype(np.int32))
# every argument non-default but include_last_offset (see embeddingbag.c):
# max_norm renormalises the looked-up rows (state saved: the weight changes)
case("cell_embbag_args", layers(
    "EmbeddingBag: {num_embeddings: 8, embedding_dim: 4, max_norm: 0.7, norm_type: 3.0, "
    "scale_grad_by_freq: true, mode: sum, sparse: true, padding_idx: 1}"),
    idx("cell_embbag_args", 8, 3, 5), state=True)
case("cell_embbag_maxnorm_mean", layers("EmbeddingBag: {num_embeddings: 8, embedding_dim: 4, max_norm: 1.0}"),
     idx("cell_embbag_maxnorm_mean", 8, 4, 4), state=True)
case("cell_embbag_pos", layers("EmbeddingBag: [7, 3, null, 2.0, false, max]"), idx("cell_embbag_pos", 7, 2, 3))
# no weights: normal(0, 1), the padding row zeroed; a bag of padding only
# gives zeros whatever the draws
case("cell_embbag_default_pad", layers("EmbeddingBag: {num_embeddings: 5, embedding_dim: 3, mode: sum, "
                                       "padding_idx: 4}"),
     np.full((2, 3), 4, np.int64), weights=False)
case("cell_embbag_mlp", layers("EmbeddingBag: [20, 6]", "Linear: [6, 4]", "ReLU", "GRUCell: [4, 3]"),
     idx("cell_embbag_mlp", 20, 5, 7))
case("cell_embbag_empty_batch", layers("EmbeddingBag: [5, 2]"), np.zeros((0, 3), np.int64))
# max_norm over a stream of records: each record is one forward call, which
# renormalises its rows again (rounding may leave a row a hair above
# max_norm); chunks of a record (--batch-size, micro-batches on threads)
# renormalise each row once, as the unchunked call
case("cell_embbag_maxnorm_stream", layers(
    "EmbeddingBag: {num_embeddings: 30, embedding_dim: 6, max_norm: 0.9, mode: sum}", "Linear: [6, 3]", "Tanh"),
    [idx("cell_embbag_maxnorm_stream", 30, 7, 4), rng("cell_embbag_maxnorm_stream", 2).randint(0, 30, (5, 3))],
    state=True, args="--batch-size 2 --threads 2")
