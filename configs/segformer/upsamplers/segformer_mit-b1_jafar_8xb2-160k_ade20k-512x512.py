# SegFormer-B1 + JAFAR neck on ADE20K: attention from image queries to each level's features.
# Same schedule, data and head as ../segformer_mit-b1_jbu_8xb2-160k_ade20k-512x512.py;
# only the neck's upsampler (and what guides it) changes. guidance_size='output': the image is
# area-resized to the neck's grid (stride 4) before the query/key encoders, instead of encoding
# the 512x512 crop at full resolution per level (the authors' 'native', ~16x the activations).
_base_ = ['../segformer_mit-b1_jbu_8xb2-160k_ade20k-512x512.py']
model = dict(neck=dict(upsampler=dict(_delete_=True, type='JAFAR', guidance_size='output'),
                       guidance='image'))
