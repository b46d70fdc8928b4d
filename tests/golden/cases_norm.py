# cases_norm.py - golden cases for the normalisation family: GroupNorm,
# InstanceNorm1d/2d/3d, BatchNorm3d, SyncBatchNorm, LocalResponseNorm,
# CrossMapLRN2d.  Run in gen.py's namespace (case, layers, L, randn, stream).
own("norm_")

# SyncBatchNorm's forward refuses CPU tensors ("SyncBatchNorm expected input
# tensor to be on GPU"); on one process it is the BatchNorm it equals (its
# forward falls back to F.batch_norm when there is nothing to synchronise),
# which is what seqrun runs.  So the reference runs that fallback.
nn.SyncBatchNorm.forward = nn.modules.batchnorm._BatchNorm.forward

# ---- GroupNorm ---------------------------------------------------------------
case("norm_gn_2d", layers("GroupNorm: [2, 6]"), randn("norm_gn_2d", 3, 6, 5, 4))
case("norm_gn_all_args", layers("GroupNorm: {num_groups: 3, num_channels: 6, eps: 0.001, affine: false}"),
     randn("norm_gn_all_args", 2, 6, 7, scale=0.1))
case("norm_gn_pos_args", layers("GroupNorm: [4, 8, 0.1, true]"), randn("norm_gn_pos_args", 2, 8, 3, 2))
# (N, C): no spatial dims
case("norm_gn_nc", layers("GroupNorm: [2, 8]"), randn("norm_gn_nc", 4, 8, offset=0.5))
# a lone value per group: PyTorch accepts it for more than one sample
case("norm_gn_nc_lone", layers("GroupNorm: [4, 4, 0.5]"), randn("norm_gn_nc_lone", 3, 4))
case("norm_gn_3d", layers("GroupNorm: [2, 4]"), randn("norm_gn_3d", 2, 4, 3, 4, 5))
case("norm_gn_1d", layers("GroupNorm: [3, 6]"), randn("norm_gn_1d", 2, 6, 33))
case("norm_gn_one_group", layers("GroupNorm: [1, 6]"), randn("norm_gn_one_group", 2, 6, 3, 3))
case("norm_gn_per_channel", layers("GroupNorm: {num_groups: 5, num_channels: 5}"),
     randn("norm_gn_per_channel", 2, 5, 4, 4))
case("norm_gn_default_init", layers("GroupNorm: [2, 4]"), randn("norm_gn_default_init", 2, 4, 3, 3), weights=False)
# without weights PyTorch never looks at num_channels: any multiple of num_groups runs
case("norm_gn_noaffine_other_c", layers("GroupNorm: {num_groups: 2, num_channels: 4, affine: false}"),
     randn("norm_gn_noaffine_other_c", 2, 6, 5))
# numerical stability: a common offset of 100 (a naive E[x^2] - E[x]^2 in
# float32 loses the variance); the second with a small spread as well
case("norm_gn_offset", layers("GroupNorm: [2, 8]"), randn("norm_gn_offset", 2, 8, 16, 16, offset=100.0))
case("norm_gn_offset_narrow", layers("GroupNorm: {num_groups: 4, num_channels: 8, affine: false}"),
     randn("norm_gn_offset_narrow", 2, 8, 9, 9, scale=0.5, offset=-40.0))
# big enough to be spread over threads; the SiLU is fused into it
case("norm_gn_conv_silu", L(
    "layers:",
    "  - Conv2d: [3, 32, 3, 1, 1]",
    "  - GroupNorm: [8, 32]",
    "  - SiLU"),
    randn("norm_gn_conv_silu", 4, 3, 24, 24), scale="fan_in", args="--threads 2")
case("norm_gn_batch_size", layers("GroupNorm: [2, 4]", "ReLU"), randn("norm_gn_batch_size", 5, 4, 6),
     args="--batch-size 2")
case("norm_gn_train", layers("GroupNorm: [3, 6]"), randn("norm_gn_train", 2, 6, 4), train=True)

# ---- InstanceNorm ----------------------------------------------------------------
case("norm_in1d", layers("InstanceNorm1d: 4"), randn("norm_in1d", 3, 4, 7, scale=2.0, offset=-1.0))
case("norm_in1d_unbatched", layers("InstanceNorm1d: {num_features: 4, affine: true}"),
     randn("norm_in1d_unbatched", 4, 9))
# every argument given, eval with running statistics
case("norm_in1d_all_args", layers("InstanceNorm1d: [4, 0.001, 0.3, true, true]"),
     randn("norm_in1d_all_args", 2, 4, 6))
case("norm_in2d_affine", layers("InstanceNorm2d: {num_features: 3, eps: 0.01, affine: true}"),
     randn("norm_in2d_affine", 2, 3, 5, 5))
case("norm_in2d_unbatched", layers("InstanceNorm2d: 3"), randn("norm_in2d_unbatched", 3, 4, 5))
case("norm_in2d_unbatched_track", layers("InstanceNorm2d: {num_features: 3, affine: true, track_running_stats: true}"),
     randn("norm_in2d_unbatched_track", 3, 4, 5))
case("norm_in2d_track_eval", layers("InstanceNorm2d: {num_features: 3, track_running_stats: true}"),
     randn("norm_in2d_track_eval", 2, 3, 4, 4))
# eval with running statistics after a convolution: folded into it
case("norm_in2d_conv_fold", L(
    "layers:",
    "  - Conv2d: [2, 4, 3]",
    "  - InstanceNorm2d: {num_features: 4, affine: true, track_running_stats: true}",
    "  - ReLU"),
    randn("norm_in2d_conv_fold", 2, 2, 6, 6))
# the CycleGAN block's norm: conv, instance norm, ReLU (fused)
# unbatched (C, L) after a Linear whose output features equal C: the running
# statistics' affine map acts on dim 0 here, so it must not be folded into
# the Linear's output features (dim 1)
case("norm_in1d_linear_unbatched_track", layers("Linear: [4, 4]", "InstanceNorm1d: {num_features: 4, affine: true, "
                                                "track_running_stats: true}"),
     randn("norm_in1d_linear_unbatched_track", 4, 4))
case("norm_in2d_conv1d_unbatched_track", layers("Conv1d: [2, 3, 3]", "InstanceNorm2d: {num_features: 3, "
                                                "track_running_stats: true}"),
     randn("norm_in2d_conv1d_unbatched_track", 3, 2, 7))
case("norm_in2d_conv_relu", L(
    "layers:",
    "  - Conv2d: [3, 16, 3, 1, 1]",
    "  - InstanceNorm2d: 16",
    "  - ReLU",
    "  - Conv2d: [16, 8, 3, 2, 1]",
    "  - InstanceNorm2d: {num_features: 8, affine: true}",
    "  - ReLU"),
    randn("norm_in2d_conv_relu", 3, 3, 20, 20), scale="fan_in")
case("norm_in3d", layers("InstanceNorm3d: {num_features: 2, affine: true}"), randn("norm_in3d", 2, 2, 3, 4, 5))
case("norm_in3d_unbatched_track", layers("InstanceNorm3d: [2, 0.0001, 0.5, false, true]"),
     randn("norm_in3d_unbatched_track", 2, 3, 4, 5))
case("norm_in3d_unbatched", layers("InstanceNorm3d: 2"), randn("norm_in3d_unbatched", 2, 2, 3, 4))
# without affine and running statistics num_features is never read
case("norm_in1d_other_c", layers("InstanceNorm1d: 5"), randn("norm_in1d_other_c", 2, 3, 8))
case("norm_in2d_offset", layers("InstanceNorm2d: {num_features: 4, affine: true}"),
     randn("norm_in2d_offset", 2, 4, 12, 12, offset=100.0))
case("norm_in2d_batch_size", layers("InstanceNorm2d: 3", "Tanh"), randn("norm_in2d_batch_size", 5, 3, 4, 4),
     args="--batch-size 2")
# training: instance statistics; running statistics averaged over the batch
case("norm_in2d_train", layers("InstanceNorm2d: {num_features: 3, momentum: 0.2, affine: true, "
                               "track_running_stats: true}"),
     randn("norm_in2d_train", 4, 3, 3, 5, scale=1.5, offset=0.5), train=True, passes=1)
case("norm_in1d_train_3pass", layers("InstanceNorm1d: [4, 0.001, 0.3, false, true]"),
     randn("norm_in1d_train_3pass", 3, 4, 6, offset=-0.7), train=True, passes=3)
case("norm_in1d_train_unbatched", layers("InstanceNorm1d: {num_features: 3, track_running_stats: true}"),
     randn("norm_in1d_train_unbatched", 3, 7, offset=2.0), train=True, passes=2)
case("norm_in3d_train", layers("InstanceNorm3d: {num_features: 2, affine: true, track_running_stats: true}"),
     randn("norm_in3d_train", 2, 2, 2, 3, 3), train=True, passes=1)
case("norm_in2d_train_notrack", layers("InstanceNorm2d: {num_features: 3, affine: true}"),
     randn("norm_in2d_train_notrack", 2, 3, 4, 4), train=True, passes=1)
case("norm_in2d_train_offset", layers("InstanceNorm2d: {num_features: 2, track_running_stats: true}"),
     randn("norm_in2d_train_offset", 3, 2, 8, 8, offset=100.0), train=True, passes=1)
# default init (ones, zeros, running 0 / 1, num_batches_tracked 0, which
# InstanceNorm never counts up)
case("norm_in2d_train_default_init", layers("InstanceNorm2d: {num_features: 3, affine: true, "
                                            "track_running_stats: true}"),
     randn("norm_in2d_train_default_init", 2, 3, 4, 4), weights=False, train=True, state=True)
# a stream of records: the running statistics carry from record to record
case("norm_in_stream_train", layers("InstanceNorm1d: {num_features: 4, momentum: 0.3, track_running_stats: true}",
                                    "Unflatten: [2, [2, 3]]",
                                    "InstanceNorm2d: {num_features: 4, affine: true, track_running_stats: true}"),
     stream("norm_in_stream_train", (3, 4, 6), (1, 4, 6), (5, 4, 6), offsets=[1.0, -2.0, 0.0]),
     train=True, passes=2)

# ---- BatchNorm3d, SyncBatchNorm -----------------------------------------------------
case("norm_bn3d", layers("BatchNorm3d: 3"), randn("norm_bn3d", 2, 3, 2, 3, 4))
case("norm_bn3d_all_args", layers("BatchNorm3d: [3, 0.001, 0.2, false, true]"),
     randn("norm_bn3d_all_args", 2, 3, 2, 2, 3))
case("norm_bn3d_notrack", layers("BatchNorm3d: {num_features: 2, track_running_stats: false}"),
     randn("norm_bn3d_notrack", 2, 2, 2, 3, 3))
case("norm_bn3d_train", layers("BatchNorm3d: {num_features: 3, momentum: 0.3}"),
     randn("norm_bn3d_train", 2, 3, 2, 3, 3, offset=0.5), train=True, passes=2)
case("norm_bn3d_train_cma", layers("BatchNorm3d: {num_features: 2, momentum: null, affine: false}"),
     randn("norm_bn3d_train_cma", 3, 2, 2, 2, 2, scale=2.0), train=True, passes=3)
case("norm_bn3d_train_offset", layers("BatchNorm3d: 2"), randn("norm_bn3d_train_offset", 2, 2, 4, 4, 4, offset=100.0),
     train=True, passes=1)
case("norm_bn3d_default_init", layers("BatchNorm3d: 3"), randn("norm_bn3d_default_init", 2, 3, 2, 2, 2),
     weights=False, train=True, state=True)
case("norm_syncbn_2d", layers("SyncBatchNorm: 4"), randn("norm_syncbn_2d", 5, 4))
case("norm_syncbn_3d", layers("SyncBatchNorm: {num_features: 3, eps: 0.001}"), randn("norm_syncbn_3d", 2, 3, 5))
case("norm_syncbn_4d", layers("SyncBatchNorm: 3"), randn("norm_syncbn_4d", 2, 3, 4, 4))
case("norm_syncbn_5d", layers("SyncBatchNorm: {num_features: 2, affine: false}"), randn("norm_syncbn_5d", 2, 2, 2, 3, 3))
case("norm_syncbn_all_args", layers("SyncBatchNorm: [3, 0.001, 0.2, false, true, null]"),
     randn("norm_syncbn_all_args", 4, 3, 5, offset=1.0), train=True, passes=2)
case("norm_syncbn_train_4d", layers("SyncBatchNorm: {num_features: 3, momentum: null, process_group: null}"),
     randn("norm_syncbn_train_4d", 2, 3, 3, 3, scale=1.5), train=True, passes=2)
case("norm_syncbn_train_5d_notrack", layers("SyncBatchNorm: {num_features: 2, track_running_stats: false}"),
     randn("norm_syncbn_train_5d_notrack", 2, 2, 2, 2, 3), train=True, passes=1)
case("norm_syncbn_conv_fold", L(
    "layers:",
    "  - Conv2d: [2, 3, 3, 1, 1]",
    "  - SyncBatchNorm: 3",
    "  - ReLU"),
    randn("norm_syncbn_conv_fold", 2, 2, 5, 5))

# ---- LocalResponseNorm, CrossMapLRN2d -----------------------------------------------
# alpha large enough that the window's sum shows in the output
case("norm_lrn_3d", layers("LocalResponseNorm: {size: 3, alpha: 1.0}"), randn("norm_lrn_3d", 2, 6, 5))
case("norm_lrn_4d_all_args", layers("LocalResponseNorm: [4, 0.5, 0.6, 2.0]"), randn("norm_lrn_4d_all_args", 2, 7, 4, 5))
case("norm_lrn_5d", layers("LocalResponseNorm: {size: 5, alpha: 2.0, beta: 0.75}"), randn("norm_lrn_5d", 2, 6, 2, 3, 4))
case("norm_lrn_wide", layers("LocalResponseNorm: {size: 9, alpha: 1.0, beta: 1.0, k: 0.5}"),
     randn("norm_lrn_wide", 2, 4, 3, 3))
case("norm_lrn_size1", layers("LocalResponseNorm: {size: 1, alpha: 0.3, beta: 0.5}"), randn("norm_lrn_size1", 2, 3, 4))
case("norm_lrn_default", layers("LocalResponseNorm: 5"), randn("norm_lrn_default", 2, 8, 3, 3, scale=30.0))
# AlexNet's
case("norm_lrn_alexnet", L(
    "layers:",
    "  - Conv2d: [3, 16, 5, 2, 2]",
    "  - ReLU",
    "  - LocalResponseNorm: {size: 5, alpha: 0.0001, beta: 0.75, k: 2.0}",
    "  - MaxPool2d: {kernel_size: 3, stride: 2}"),
    randn("norm_lrn_alexnet", 2, 3, 15, 15, scale=20.0))
case("norm_cmlrn", layers("CrossMapLRN2d: {size: 3, alpha: 1.0}"), randn("norm_cmlrn", 2, 7, 3, 4))
case("norm_cmlrn_all_args", layers("CrossMapLRN2d: [4, 0.5, 0.6, 2.0]"), randn("norm_cmlrn_all_args", 2, 8, 3, 2))
case("norm_cmlrn_wide", layers("CrossMapLRN2d: {size: 9, alpha: 2.0, beta: 1.0, k: 0.5}"),
     randn("norm_cmlrn_wide", 2, 4, 3, 3))
case("norm_cmlrn_size1", layers("CrossMapLRN2d: {size: 1, alpha: 0.3, beta: 0.5}"), randn("norm_cmlrn_size1", 1, 5, 2, 3))
case("norm_cmlrn_default", layers("CrossMapLRN2d: 5"), randn("norm_cmlrn_default", 2, 6, 3, 3, scale=30.0))

# ---- lazy norms: num_features from input.shape[1] ----------------------------------
case("norm_lazybn1d", layers("LazyBatchNorm1d", "ReLU"), randn("norm_lazybn1d", 4, 5))
case("norm_lazybn1d_3d_args", layers("LazyBatchNorm1d: [0.001, 0.3, false, true]"), randn("norm_lazybn1d_3d_args", 3, 4, 5),
     train=True, passes=2)
case("norm_lazybn2d_conv", L(
    "layers:",
    "  - Conv2d: [2, 4, 3, 1, 1]",
    "  - LazyBatchNorm2d",
    "  - ReLU"),
    randn("norm_lazybn2d_conv", 2, 2, 5, 5))
case("norm_lazybn2d_train_default_init", layers("LazyBatchNorm2d: {momentum: null}"),
     randn("norm_lazybn2d_train_default_init", 3, 3, 2, 2), weights=False, train=True, state=True)
case("norm_lazybn2d_noaffine_notrack", layers("LazyBatchNorm2d: {affine: false, track_running_stats: false}"),
     randn("norm_lazybn2d_noaffine_notrack", 3, 3, 2, 2))
case("norm_lazybn3d", layers("LazyBatchNorm3d: {eps: 0.01}"), randn("norm_lazybn3d", 2, 3, 2, 3, 2))
case("norm_lazyin1d", layers("LazyInstanceNorm1d"), randn("norm_lazyin1d", 2, 3, 6))
case("norm_lazyin2d_train", layers("LazyInstanceNorm2d: {momentum: 0.2}"), randn("norm_lazyin2d_train", 2, 3, 4, 4),
     train=True, passes=2)
case("norm_lazyin2d_noaffine_notrack", layers("LazyInstanceNorm2d: [0.001, 0.1, false, false]"),
     randn("norm_lazyin2d_noaffine_notrack", 2, 3, 4, 4))
case("norm_lazyin3d_unbatched_square", layers("LazyInstanceNorm3d: {affine: false}"),
     randn("norm_lazyin3d_unbatched_square", 3, 3, 2, 2))
