# Regenerates opencv_golden.json, color.png and color.jpg beside this file:
# OpenCV's own results for the resize and decode checks in image_test.go.
# Needs Debian's python3-opencv: /usr/bin/python3 gen_opencv_golden.py
import cv2, numpy as np, json, os
here=os.path.dirname(os.path.abspath(__file__))
def img(h,w,c):
    a=np.zeros((h,w,c),np.uint8)
    for y in range(h):
        for x in range(w):
            for k in range(c):
                a[y,x,k]=(k*37+y*11+x*7+x*y*3)%256
    return a
cases=[(1,2,1,1,4),(7,9,3,4,5),(7,9,3,16,13),(5,5,1,3,3),(8,8,1,4,4),(6,10,3,25,7),(32,32,3,28,28),(17,23,3,40,31),(3,3,3,24,24),(9,4,1,5,11)]
out=[]
for (h,w,c,nh,nw) in cases:
    a=img(h,w,c)
    r=cv2.resize(a,(nw,nh))
    if r.ndim==2: r=r[:,:,None]
    out.append({"c":c,"h":h,"w":w,"nh":nh,"nw":nw,"out":r.transpose(2,0,1).reshape(-1).tolist()})
res={"opencv":cv2.__version__,"formula":"(k*37+y*11+x*7+x*y*3)%256 at channel k (BGR), row y, column x","resize":out}
# smooth natural-ish color image for codec checks
h,w=24,40
a=np.zeros((h,w,3),np.uint8)
for y in range(h):
    for x in range(w):
        a[y,x]=[(x*6)%256,(y*10)%256,(128+x*3-y*4)%256]
cv2.imwrite(os.path.join(here,"color.png"),a)
cv2.imwrite(os.path.join(here,"color.jpg"),a,[cv2.IMWRITE_JPEG_QUALITY,90])
for name in ["color.png","color.jpg"]:
    p=os.path.join(here,name)
    col=cv2.imread(p,cv2.IMREAD_COLOR)
    g=cv2.imread(p,cv2.IMREAD_GRAYSCALE)
    res[name]={"color":col.transpose(2,0,1).reshape(-1).tolist(),"gray":g.reshape(-1).tolist()}
json.dump(res,open(os.path.join(here,"opencv_golden.json"),"w"),separators=(",",":"))
print(cv2.__version__)
