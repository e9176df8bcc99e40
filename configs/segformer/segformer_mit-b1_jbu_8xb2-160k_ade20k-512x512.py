# SegFormer-B1 + FeatUp JBU neck on ADE20K: the stock mmseg schedule (160k iters,
# 8 GPUs x 2 images, 512x512 crops), the setting of the FADE/SAPA/CARAFE upsampler
# comparisons (stock bilinear SegFormer-B1: 41.68 mIoU). Every other upsampler runs
# this exact schedule: configs/segformer/upsamplers/*.py only swap ``model.neck``.
# Everything but the backbone's size (mmseg's MiT-B1 settings) comes from the B0 config:
# data and its checks, neck, hooks, seed.
# Nothing is downloaded: set ``pretrained`` to a local MiT-B1 ImageNet checkpoint
# (mmseg's mit_b1_20220624-02e5a6a1.pth) to start from it; None trains from scratch.
_base_ = ['./segformer_mit-b0_jbu_8xb2-160k_ade20k-512x512.py']

pretrained = None  # e.g. 'pretrain/mit_b1_20220624-02e5a6a1.pth'
model = dict(
    backbone=dict(
        init_cfg=dict(type='Pretrained', checkpoint=pretrained) if pretrained else None,
        embed_dims=64,
        num_heads=[1, 2, 5, 8],
        num_layers=[2, 2, 2, 2]),
    decode_head=dict(in_channels=[64, 128, 320, 512]))  # MiT-B1 stages; the neck takes them
