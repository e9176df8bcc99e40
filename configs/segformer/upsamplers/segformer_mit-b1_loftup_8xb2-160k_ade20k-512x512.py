# SegFormer-B1 + LoftUp neck on ADE20K: a coordinate-based cross-attention transformer (image-guided).
# Same schedule, data and head as ../segformer_mit-b1_jbu_8xb2-160k_ade20k-512x512.py;
# only the neck's upsampler (and what guides it) changes.
_base_ = ['../segformer_mit-b1_jbu_8xb2-160k_ade20k-512x512.py']
model = dict(neck=dict(upsampler=dict(_delete_=True, type='LoftUp'), guidance='image'))
