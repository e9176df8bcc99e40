# SegFormer-B1 + FADE neck on ADE20K: FADE, guided by the stride-4 level (as in the FADE paper).
# Same schedule, data and head as ../segformer_mit-b1_jbu_8xb2-160k_ade20k-512x512.py;
# only the neck's upsampler (and what guides it) changes.
_base_ = ['../segformer_mit-b1_jbu_8xb2-160k_ade20k-512x512.py']
model = dict(neck=dict(upsampler=dict(_delete_=True, type='FADE'), guidance=0))
