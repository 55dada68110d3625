var x,Tt,ve,U,dt,rt,At,tt,Ot,pt,ft,ye,J=Symbol.for("pv"),ot={},st=[],ke=/^m(i|n|o|s|text|space)$/,ht=Array.isArray,mt=st.slice,F=Object.assign;function j(e){e&&e.parentNode&&e.remove()}function Dt(e,t,n){var o,i,r,s={},a=arguments.length;for(r in t)r=="key"?o=t[r]:r=="ref"&&typeof e!="function"?i=t[r]:s[r]=t[r];return a>2&&(s.children=a>3?mt.call(arguments,2):n),Y(e,s,o,i,null)}function Y(e,t,n,o,i){var r={type:e,props:t,key:n,ref:o,__k:null,__:null,__b:0,__e:null,__c:null,constructor:J,__v:i||++Tt,__i:-1,__u:0};return!i&&x.vnode&&x.vnode(r),r}function at(e){return e.children}function et(e,t){this.props=e,this.context=t,this.__g=0}function L(e,t){if(t==null)return e.__&&L(e.__,e.__i+1);for(var n;t<e.__k.length;t++)if((n=e.__k[t])&&n.__e)return n.__e;return typeof e.type!="function"||e.props.__P?null:L(e)}function we(e){var t,n=e.__v,o=n.__e,i=[],r=[],s=e.__P;s&&((t=F({constructor:J},n)).__v=n.__v+1,x.vnode&&x.vnode(t),$t(s,t,n,e.__n,s.namespaceURI,32&n.__u?[o]:null,i,o||L(n),32&n.__u,r),t.__v=n.__v,t.__.__k[t.__i]=t,Bt(i,t,r),n.__=n.__e=null,t.__e!=o&&Mt(t))}function Mt(e){if((e=e.__)&&e.__c&&!e.props.__P)return e.__e=null,e.__k.some(function(t){return t&&(e.__e=t.__e)}),Mt(e)}function Nt(e){(8&e.__g||(e.__g|=8,U.push(e),rt++))&&dt==x.debounceRendering||((dt=x.debounceRendering)||queueMicrotask)(Ht)}function Ht(){try{for(var e,t=1;U.length;)U.length>t&&U.sort(At),e=U.shift(),t=U.length,8&e.__g&&we(e)}finally{(rt=U.length)&&(dt||queueMicrotask)(Ht)}}function Wt(e,t,n,o,i,r,s,a,l,d,_){var c,p,u,$,m,g,w=o.__k||st,v=t.length;for(l=be(n,t,w,l,v),c=0;c<v;c++)(u=n.__k[c])!=null&&(p=~u.__i&&w[u.__i]||ot,u.__i=c,g=$t(e,u,p,i,r,s,a,l,d,_),$=u.__e,(p.ref!=u.ref||8&p.__u)&&(p.ref&&gt(p.ref,null,u,p),u.ref&&_.push(u.ref,u.__c||$,u)),m=m||$,4&u.__u?(l=Ut(u,l,e,!p.__v),p.__e&&(p.__e=null)):typeof u.type=="function"&&g!==void 0?l=g:$&&(l=$.nextSibling),u.__u&=-21);return n.__e=m,l}function be(e,t,n,o,i){var r,s,a,l,d,_,c,p,u,$=n.length,m=$,g=0,w=0,v=e.__k=Array(i);for(r=0;r<i;r++)(s=t[r])!=null&&typeof s!="boolean"&&typeof s!="function"?(typeof s!="object"||s.constructor===String?s=v[r]=Y(null,s):ht(s)?s=v[r]=Y(at,{children:s}):s.constructor===J&&s.__b?s=v[r]=Y(s.type,s.props,s.key,s.ref,s.__v):v[r]=s,l=r+g,s.__=e,s.__b=e.__b+1,a=null,~(d=s.__i=xe(s,n,l,m))&&(m--,(a=n[d])&&(a.__u|=2)),a&&a.__v?(s.__u|=16,d==l-1?g--:d==l+1?g++:d!=l&&(d>l?g--:g++,w=1)):(~d||(i>$?g--:i<$&&g++),typeof s.type!="function"&&(s.__u|=4))):v[r]=null;if(w){for(_=[],c=[],r=0;r<i;r++)if((s=v[r])&&16&s.__u){for(g=0,p=_.length;g<p;)_[u=g+p>>1]<s.__i?g=u+1:p=u;_[g]=s.__i,c[r]=g+1}for(g=_.length;r--;)c[r]&&(c[r]==g?g--:v[r].__u|=4)}if(m)for(r=0;r<$;r++)!(a=n[r])||2&a.__u||(a.__e==o&&(o=L(a)),vt(a,a));return o}function Ut(e,t,n,o){var i,r,s,a;if(typeof e.type=="function"){if(e.props.__P)return t;if(i=e.__k)for(r=0;r<i.length;r++)i[r]&&(i[r].__=e,t=Ut(i[r],t,n,!1));return t}for(t&&!t.parentNode&&(t=L(e))&&!t.parentNode&&(t=null),s=e.__e,a=t;a&&a.nodeType==8;)a=a.nextSibling;for(s!=a&&(!o&&n.moveBefore&&s.parentNode?n.moveBefore(s,t):n.insertBefore(s,t||null)),t=s;(t=t&&t.nextSibling)&&t.nodeType==8&&!t.data.startsWith("$s"););return t}function xe(e,t,n,o){var i,r=e.key,s=e.type,a=t[n],l=a&&!(2&a.__u);if(a===null&&r==null||l&&r==a.key&&s==a.type)return n;if(o>(l?1:0)){for(i=n-1;i>=0;i--)if((a=t[i])&&!(2&a.__u)&&r==a.key&&s==a.type)return i;for(i=n+1;i<t.length;i++)if((a=t[i])&&!(2&a.__u)&&r==a.key&&s==a.type)return i}return-1}function It(e,t,n){n==null&&(n=""),t[0]=="-"?e.setProperty(t,n):e[t]=n}function Z(e,t,n,o,i){var r,s;if(t=="style")if(typeof n=="string")e.style.cssText=n;else{if(typeof o=="string"&&(e.style.cssText=o=""),o)for(t in o)n&&t in n||It(e.style,t);if(n)for(t in n)o&&n[t]==o[t]||It(e.style,t,n[t])}else if(t[0]=="o"&&t[1]=="n")typeof n!="function"&&(n=null),typeof o!="function"&&(o=null),(e.__e||(e.__e={}))[t]=n,n&&o||(s=ft[t]||(ft[t]=Se(t)),(e.__a||(e.__a={}))[t]=pt,r=t!=(t=t.replace(Ot,"$1")),(t=t.slice(2))[0]<"a"&&(t=t.toLowerCase()),n?e.addEventListener(t,s,r):e.removeEventListener(t,s,r));else{if(i=="http://www.w3.org/2000/svg")t=t.replace(/xlink(H|:h)/,"h").replace(/sName$/,"s");else if(t!="width"&&t!="height"&&t!="href"&&t!="list"&&t!="form"&&t!="tabIndex"&&t!="download"&&t!="rowSpan"&&t!="colSpan"&&t!="role"&&t!="popover"&&t in e)try{return void(e[t]=n??"")}catch{}if(typeof n=="function")return;n==null||n===!1&&t[4]!="-"?e.removeAttribute(t):e.setAttribute(t,t=="popover"&&n==1?"":n)}}function Se(e){return function(t){var n=this.__e;if(n){if(n=n[e],t[tt]==null)t[tt]=pt++;else if(t[tt]<this.__a[e])return;return n(x.event?x.event(t):t)}}}function $t(e,t,n,o,i,r,s,a,l,d){var _,c,p,u,$,m,g,w,v,b,h,P,y,E,I,H,R,D,T=t.type;if(t.constructor!==J)return null;128&n.__u&&(l=32&n.__u,_=n.__c.__z)&&(t.__u|=l,c=r=[],_.nodeType==8?a=nt(_,r):r.push(_),a=r[0]||a),(_=x.__b)&&_(t);t:if(typeof T=="function"){p=s.length;try{if(w=t.props,v=(_=T.prototype)&&_.render,b=(_=T.contextType)&&o[_.__c],h=_?b?b.props.value:_.__:o,(u=n.__c)?(t.__c=u,2&u.__g&&(u.__g|=1)):(v?t.__c=u=new T(w,h):(t.__c=u=new et(w,h),u.constructor=T,u.render=Pe),b&&b.sub(u),u.state||(u.state={}),u.__n=o,u.__g|=8,u.__h=[],u.__k=[]),v&&(u.__s||(u.__s=u.state),T.getDerivedStateFromProps&&(u.__s==u.state&&(u.__s=F({},u.__s)),F(u.__s,T.getDerivedStateFromProps(w,u.__s)))),$=u.props,m=u.state,u.__v=t,n.__c){if(w!==$&&v&&!T.getDerivedStateFromProps&&u.componentWillReceiveProps&&u.componentWillReceiveProps(w,h),t.__v==n.__v&&!(8&u.__g)||!(4&u.__g)&&u.shouldComponentUpdate&&u.shouldComponentUpdate(w,u.__s,h)===!1){t.__v!=n.__v&&(u.props=w,u.state=u.__s,u.__g&=-9),t.__e=n.__e,t.__k=n.__k,t.__k.some(function(A){A&&(A.__=t)}),st.push.apply(u.__h,u.__k),u.__k=[],u.__h.length&&s.push(u),a=L(n);break t}u.componentWillUpdate&&u.componentWillUpdate(w,u.__s,h),v&&u.componentDidUpdate&&u.__h.push(function(){u.componentDidUpdate($,m,g)})}else v&&!T.getDerivedStateFromProps&&u.componentWillMount&&u.componentWillMount(),v&&u.componentDidMount&&u.__h.push(u.componentDidMount);u.context=h,u.props=w,u.__P=e,u.__g&=-5,P=x.__r,y=v?25:0;do u.__g&=-9,P&&P(t),_=u.render(u.props,u.state=u.__s,u.context);while(8&u.__g&&++y<25);v&&(st.push.apply(u.__h,u.__k),u.__k=[]),u.state=u.__s,u.getChildContext&&(o=F({},o,u.getChildContext())),v&&n.__c&&u.getSnapshotBeforeUpdate&&(g=u.getSnapshotBeforeUpdate($,m)),E=_&&_.type===at&&_.key==null?_.props.children:_,w.__P&&(_=a,i=(e=w.__P).namespaceURI,l=r=null,n.props&&n.props.__P!=e&&(n.__k.some(function(A){A&&vt(A,A)}),n.__k=null),a=n.__k?L(n,0):null),a=Wt(e,ht(E)?E:[E],t,n,o,i,r,s,a,l,d),w.__P&&(t.__e=null,a=_),t.__u&=-161,c&&c.some(j),u.__h.length&&s.push(u),1&u.__g&&(u.__g&=-4)}catch(A){if(s.length=p,t.__v=null,l||r)if(A&&A.then){if(t.__u|=128|l,r){for(~(R=r.indexOf(a||void 0))||(R=r.length);(D=r[R-1])&&D.nodeType==8;)R--;for(;R<r.length;R++)if(D=r[R])if(r[R]=null,I){if(D==H)break}else{if(D.nodeType!=8)break;D.data.startsWith("$s")&&(H=nt(I=D))}}if(!I){for(;a&&a.nodeType==8&&a.nextSibling;)a=a.nextSibling;I=a}(_=nt(I=t.__c.__z||(t.__c.__z=I)))?(t.__e=I,a=_):t.__e=a,a=a&&a.nextSibling}else r&&r.some(j);else t.__e=n.__e;t.__k||(t.__k=n.__k||[]),A&&A.then||Lt(t),x.__e(A,t,n)}}else a=t.__e=Ce(n.__e,t,n,o,i,r,s,l,d,e);return(_=x.diffed)&&_(t),a}function nt(e,t){if(e&&e.nodeType==8&&e.data.startsWith("$s"))for(var n=1;e=e.nextSibling;){if(e.nodeType==8){if(e.data.startsWith("$s"))n++;else if(e.data.startsWith("/$s")&&!--n)return e}t&&t.push(e)}}function Lt(e){e&&(e.__c&&(e.__c.__g|=4),e.__k&&e.__k.some(Lt))}function Bt(e,t,n){for(var o=0;o<n.length;)gt(n[o++],n[o++],n[o++]);x.__c&&x.__c(t,e),e.some(function(i){try{e=i.__h,i.__h=[],e.some(function(r){r.call(i)})}catch(r){x.__e(r,i.__v)}})}function Ce(e,t,n,o,i,r,s,a,l,d){var _,c,p,u,$,m,g,w,v=n.props||ot,b=t.props,h=t.type;if(h=="svg"?i="http://www.w3.org/2000/svg":h=="math"?i="http://www.w3.org/1998/Math/MathML":i||(i="http://www.w3.org/1999/xhtml"),r){for(_=0;_<r.length;_++)if(($=r[_])&&(h?$.localName==h:$.nodeType==3)){e=$,r[_]=null;break}}if(!e){if(w=d.ownerDocument||document,!h)return w.createTextNode(b);e=w.createElementNS(i,h,b.is?b:d),a&&(x.__m&&x.__m(t,r),a=!1),r=null}if(h){if(d=h=="template"&&e.content||e,r=h=="textarea"&&b.defaultValue!=null?null:r&&mt.call(d.childNodes),!a&&r)for(v={},_=0;_<e.attributes.length;_++)v[($=e.attributes[_]).name]=$.value;for(_ in v)$=v[_],_=="dangerouslySetInnerHTML"?p=$:_=="children"||_ in b||_=="value"&&"defaultValue"in b||_=="checked"&&"defaultChecked"in b||Z(e,_,null,$,i);for(_ in b)$=b[_],_=="children"?u=$:_=="dangerouslySetInnerHTML"?c=$:_=="value"?m=$:_=="checked"?g=$:a&&typeof $!="function"||v[_]===$||Z(e,_,$,v[_],i);c?(a||p&&(c.__html==p.__html||c.__html==e.innerHTML)||(e.innerHTML=c.__html),t.__k=[]):(p&&(e.textContent=""),(h=="foreignObject"||i=="http://www.w3.org/1998/Math/MathML"&&ke.test(h))&&(i="http://www.w3.org/1999/xhtml"),Wt(d,ht(u)?u:[u],t,n,o,i,r,s,r?r[0]:n.__k&&L(n,0),a,l),r&&r.some(j)),a&&h!="textarea"||(_="value",h=="progress"&&m==null?e.removeAttribute(_):m==null||m===e[_]&&(h!="progress"||m)||Z(e,_,m,v[_],i),_="checked",g!=null&&g!=e[_]&&Z(e,_,g,v[_],i))}else v===b||a&&e.data==b||(e.data=b);return e}function gt(e,t,n,o){try{typeof e=="function"?t?t.__x=e(t)||1:o&&(o=o.__c||o.__e)&&(t=o.__x)&&(o.__x=null,typeof t=="function"?t():e(null)):e.current=t}catch(i){x.__e(i,n)}}function vt(e,t,n){var o,i,r,s;if(x.unmount&&x.unmount(e),!(o=e.ref)||o.current&&o.current!=e.__e||gt(o,null,t,e),o=e.__c){if(o.componentWillUnmount)try{o.componentWillUnmount()}catch(a){x.__e(a,t)}o.__P=o.__n=null}if(o=e.__k)for(s=0;s<o.length;s++)o[s]&&vt(o[s],t,typeof e.type!="function"||n&&!e.props.__P);!n&&(o=e.__c)&&(o=o.__z)&&(i=nt(o,r=[]))&&(o==e.__e&&r.some(j),j(i),j(o)),n||j(e.__e),e.__e=e.__c=e.__=null}function Pe(e,t,n){return this.constructor(e,n)}function jt(e,t){var n,o,i,r;x.__&&x.__(e,t),t.nodeType==9&&(t=t.documentElement),o=(n=e&&32&e.__u)?null:t.__k,t.__k=Y(at,{children:[e]}),i=[],r=[],$t(t,t.__k,o||ot,ot,t.namespaceURI,o?null:t.firstChild?mt.call(t.childNodes):null,i,o?o.__e:t.firstChild,n,r),Bt(i,t.__k,r),t.__k.props.children=null}x={__e:function(e,t,n,o){for(var i,r,s;t=t.__;)if((i=t.__c)&&!(1&i.__g)){i.__g|=4;try{if((s=(r=i.constructor)&&r.getDerivedStateFromError)&&i.setState(r.getDerivedStateFromError(e)),i.componentDidCatch&&(i.componentDidCatch(e,o||{}),s=1),s&&8&i.__g)return void(i.__g|=2)}catch(a){e=a}}throw rt=0,e}},Tt=0,ve=function(e){return e!=null&&e.constructor===J},et.prototype.setState=function(e,t){var n=this.__s;n&&n!=this.state||(n=this.__s=F({},this.state)),typeof e=="function"&&(e=e(F({},n),this.props)),e&&(F(n,e),this.__v&&(t&&this.__k.push(t),Nt(this)))},et.prototype.forceUpdate=function(e){this.__v&&(this.__g|=4,e&&this.__h.push(e),Nt(this))},et.prototype.render=at,U=[],rt=0,At=function(e,t){return e.__v.__b-t.__v.__b},tt=Symbol(),Ot=/(PointerCapture)$|Capture$/i,pt=0,ft={},ye=0;var K,C,yt,Ft,kt=Object.is,it=0,Qt=[],wt=[],S=x,qt=S.__b,Gt=S.__r,zt=S.diffed,Vt=S.__c,Yt=S.unmount,Jt=S.__;function xt(e,t){S.__h&&S.__h(C,e,it||t),it=0;var n=C.__H||(C.__H={__:[],__h:[]});return e>=n.__.length&&n.__.push({}),n.__[e]}function k(e){return it=1,Ee(ee,e)}function Ee(e,t,n){var o=xt(K++,2);if(o.t=e,!o.__c&&(o.__=[n?n(t):ee(void 0,t),function(r){var s=(o.__N||o.__)[0],a=o.t(s,r);kt(s,a)||(o.__N=[a,o.__[1]],o.__c.setState({}))}],o.__c=C,!C.__f)){C.__f=!0;var i=C.shouldComponentUpdate;C.shouldComponentUpdate=function(r,s,a){var l=this.__H;if(!l)return!0;var d=!1,_=this.props!=r;if(l.__.some(function(p){p.__N&&(d=!0,kt(p.__[0],p.__N[0])||(_=!0))}),i){var c=i.call(this,r,s,a);return d?c||_:c}return!d||_}}return o.__}function M(e,t){var n=xt(K++,3);!S.__s&&te(n.__H,t)&&(n.__P=!0,n.__=e,n.u=t,C.__H.__h.push(n))}function Zt(e){return it=5,Re(function(){return{current:e}},[])}function Re(e,t){var n=xt(K++,7);return te(n.__H,t)&&(n.__=e(),n.__H=t),n.__}function Ne(){var e;do{for(;e=wt.shift();)try{X(e)}catch(n){S.__e(n,{__:(e=e.__P)&&e.__v})}for(;e=Qt.shift();){var t=e.__H;if(e.__P&&t)try{t.__h.some(X),t.__h.some(bt),t.__h=[]}catch(n){t.__h=[],S.__e(n,e.__v)}}}while(wt.length)}S.__b=function(e){C=null,qt&&qt(e)},S.__=function(e,t){e&&t.__k&&t.__k.__m&&(e.__m=t.__k.__m),Jt&&Jt(e,t)},S.__r=function(e){Gt&&Gt(e),K=0;var t=(C=e.__c).__H;t&&(yt==C?C.__h=[]:(t.__h.some(X),t.__h.some(bt),K=0),t.__h=[],t.__.some(function(n){n.__N&&(n.__=n.__N),n.u=n.__N=void 0})),yt=C},S.diffed=function(e){zt&&zt(e);var t=e.__c;t&&t.__H&&(t.__H.__h.length&&Kt(Qt.push(t)),t.__H.__.some(function(n){n.u&&(n.__H=n.u)})),yt=C=null},S.__c=function(e,t){t.some(function(n){try{n.__h.some(X),n.__h=n.__h.filter(function(o){return!o.__||bt(o)})}catch(o){n.__h=[function(){throw o}]}}),Vt&&Vt(e,t)},S.unmount=function(e){Yt&&Yt(e);var t,n,o=e.__c;o&&o.__H&&(o.__H.__.some(function(i){try{if(i.__P&&i.__c){if(n===void 0){for(n=e.__;n&&(!n.__c||!n.__c.__P);)n=n.__;n=n&&n.__c}i.__P=n,Kt(wt.push(i))}else X(i)}catch(r){t=r}}),o.__H=void 0,t&&S.__e(t,o.__v))};var Xt=typeof requestAnimationFrame=="function";function Ie(e){var t,n=function(){clearTimeout(o),Xt&&cancelAnimationFrame(t),setTimeout(e)},o=setTimeout(n,35);Xt&&(t=requestAnimationFrame(n))}function Kt(e){e!=1&&Ft==S.requestAnimationFrame||((Ft=S.requestAnimationFrame)||Ie)(Ne)}function X(e){var t=C,n=e.__c;typeof n=="function"&&(e.__c=void 0,n()),C=t}function bt(e){var t=C;e.__c=e.__(),C=t}function te(e,t){return!e||e.length!=t.length||t.some(function(n,o){return!kt(n,e[o])})}function ee(e,t){return typeof t=="function"?t(e):t}var St="stepwise.org",Ct="stepwise.key";function Q(){let e=sessionStorage.getItem(St),t=sessionStorage.getItem(Ct);return e&&t?{org:e,key:t}:null}function ne(e,t){sessionStorage.setItem(St,e),sessionStorage.setItem(Ct,t)}function Pt(){sessionStorage.removeItem(St),sessionStorage.removeItem(Ct)}var q=class extends Error{constructor(t,n){super(Ae(t,n)),this.status=t,this.body=n,this.noRoute=t===405||t===404&&n&&n.detail==="Not Found",this.fields=re(n)}};function Te(e){return(e||[]).filter((n,o)=>!(o===0&&(n==="body"||n==="query"))).join(".")||(e||[]).join(".")}function re(e){return!e||!Array.isArray(e.detail)?[]:e.detail.map(t=>({field:Te(t.loc),message:t.msg}))}function Ae(e,t){let n=re(t);return n.length?n.map(o=>`${o.field}: ${o.message}`).join("; "):t&&Array.isArray(t.errors)&&t.errors.length?t.errors.map(o=>o.message).join("; "):t&&typeof t.detail=="string"?`${t.detail} (HTTP ${e})`:`HTTP ${e}`}var oe=()=>{};function se(e){oe=e}async function ut(e,t,n,o=Q()){let i={Authorization:`Bearer ${o.key}`};n!==void 0&&(i["content-type"]="application/json");let r=await fetch(`/v1/orgs/${encodeURIComponent(o.org)}${t}`,{method:e,headers:i,body:n===void 0?void 0:JSON.stringify(n),cache:"no-store",credentials:"omit"}),s=null;try{s=await r.json()}catch{s=null}if(!r.ok){let a=new q(r.status,s),l=Q();throw r.status===401&&l&&l.key===o.key&&oe(a),a}return s}var O=e=>ut("GET",e),W=(e,t={})=>ut("POST",e,t);function G(e){let t=new URLSearchParams;for(let[o,i]of Object.entries(e))for(let r of Array.isArray(i)?i:[i])r!=null&&r!==""&&t.append(o,r);let n=t.toString();return n?`?${n}`:""}var ie=function(e,t,n,o){var i;t[0]=0;for(var r=1;r<t.length;r++){var s=t[r++],a=t[r]?(t[0]|=s?1:2,n[t[r++]]):t[++r];s===3?o[0]=a:s===4?o[1]=Object.assign(o[1]||{},a):s===5?(o[1]=o[1]||{})[t[++r]]=a:s===6?o[1][t[++r]]+=a+"":s?(i=e.apply(a,ie(e,a,n,["",null])),o.push(i),a[0]?t[0]|=2:(t[r-2]=0,t[r]=i)):o.push(a)}return o},ae=new Map;function ue(e){var t=ae.get(this);return t||(t=new Map,ae.set(this,t)),(t=ie(this,t.get(e)||(t.set(e,t=(function(n){for(var o,i,r=1,s="",a="",l=[0],d=function(p){r===1&&(p||(s=s.replace(/^\s*\n\s*|\s*\n\s*$/g,"")))?l.push(0,p,s):r===3&&(p||s)?(l.push(3,p,s),r=2):r===2&&s==="..."&&p?l.push(4,p,0):r===2&&s&&!p?l.push(5,0,!0,s):r>=5&&((s||!p&&r===5)&&(l.push(r,0,s,i),r=6),p&&(l.push(r,p,0,i),r=6)),s=""},_=0;_<n.length;_++){_&&(r===1&&d(),d(_));for(var c=0;c<n[_].length;c++)o=n[_][c],r===1?o==="<"?(d(),l=[l],r=3):s+=o:r===4?s==="--"&&o===">"?(r=1,s=""):s=o+s[0]:a?o===a?a="":s+=o:o==='"'||o==="'"?a=o:o===">"?(d(),r=1):r&&(o==="="?(r=5,i=s,s=""):o==="/"&&(r<5||n[_][c+1]===">")?(d(),r===3&&(l=l[0]),r=l,(l=l[0]).push(2,0,r),r=0):o===" "||o==="	"||o===`
`||o==="\r"?(d(),r=2):s+=o),r===3&&s==="!--"&&(r=4,l=l[0])}return d(),l})(e)),t),arguments,[])).length>1?t:t[0]}var f=ue.bind(Dt);function N(e){if(!e)return"\u2014";let t=new Date(e);return Number.isNaN(t.getTime())?String(e):t.toISOString().replace("T"," ").slice(0,19)}function B(e){return e==null?"\u2014":JSON.stringify(e,null,2)}function z({status:e}){return f`<span class=${`badge s-${e}`}>${e}</span>`}function le(){let[e,t]=k(null),n=(i,r)=>t({text:i,run:r}),o=e?f`<div class="modal" data-test="confirm-dialog" role="dialog" aria-modal="true">
        <div class="box">
          <p>${e.text}</p>
          <button data-test="confirm-yes" onClick=${()=>{let i=e;t(null),i.run()}}>Confirm</button>
          <button data-test="confirm-no" class="secondary" onClick=${()=>t(null)}>Back</button>
        </div>
      </div>`:null;return[n,o]}function Oe(e){let t=/^(.*)\.(success|error)$/.exec(e);return t?{ref:t[1],on:t[2]}:{ref:e,on:"success"}}function De(e){let t=new Set(e.map(r=>r.ref)),n=[],o=new Set,i=(r,s,a)=>{let l=`${r}>${s}>${a}`;t.has(r)&&t.has(s)&&!o.has(l)&&(o.add(l),n.push({from:r,to:s,on:a}))};for(let r of e){for(let s of r.depends_on||[]){let{ref:a,on:l}=Oe(s);i(a,r.ref,l)}r.fallback&&i(r.ref,r.fallback,"error")}return n}function _e(e){let t=De(e),n=new Map(e.map(c=>[c.ref,[]]));for(let c of t)n.get(c.to).push(c.from);let o=new Map,i=new Set,r=c=>{if(o.has(c))return o.get(c);if(i.has(c))return 0;i.add(c);let p=Math.max(-1,...n.get(c).map(r))+1;return i.delete(c),o.set(c,p),p};e.forEach(c=>r(c.ref));let s=[];e.forEach((c,p)=>{let u=o.get(c.ref);(s[u]||(s[u]=[])).push({ref:c.ref,order:p})});let a=new Map;for(let c of s)if(c){for(let p of c){let u=n.get(p.ref).filter($=>a.has($));u.length&&(p.order=u.reduce(($,m)=>$+a.get(m),0)/u.length)}c.sort((p,u)=>p.order-u.order),c.forEach((p,u)=>a.set(p.ref,u))}let l=Math.max(1,...s.map(c=>c?c.length:0)),d=l*58+(l-1)*26,_=new Map;return s.forEach((c,p)=>{if(!c)return;let u=c.length*58+(c.length-1)*26;c.forEach(($,m)=>{_.set($.ref,{x:p*246,y:(d-u)/2+m*84})})}),{position:_,edges:t,width:Math.max(176,s.length*246-70),height:Math.max(58,d)}}var V=16;function Me(e,t){let n=e.x+176,o=e.y+58/2,i=t.x,r=t.y+58/2,s=(n+i)/2;return`M${n},${o} C${s},${o} ${s},${r} ${i},${r}`}function He(e,t){return t?t.item_count?`${t.items_done??0}/${t.item_count} items \xB7 ${t.status}`:t.attempt>1?`${t.status} \xB7 attempt ${t.attempt}`:t.status:e.kind}function lt({nodes:e,states:t,selected:n,onSelect:o}){let{position:i,edges:r,width:s,height:a}=_e(e);return f`<div class="graph">
    <svg
      width=${s+2*V}
      height=${a+2*V}
      viewBox=${`${-V} ${-V} ${s+2*V} ${a+2*V}`}
      role="img"
      aria-label="workflow graph"
    >
      <defs>
        <marker id="arrow-success" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto">
          <path d="M0,0 L10,5 L0,10 z" class="arrow-success" />
        </marker>
        <marker id="arrow-error" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto">
          <path d="M0,0 L10,5 L0,10 z" class="arrow-error" />
        </marker>
      </defs>
      ${r.map(l=>f`<path
          key=${`${l.from}-${l.to}-${l.on}`}
          class=${`edge edge-${l.on}`}
          data-edge=${`${l.from}->${l.to}`}
          data-on=${l.on}
          d=${Me(i.get(l.from),i.get(l.to))}
          marker-end=${`url(#arrow-${l.on})`}
        />`)}
      ${e.map(l=>{let d=i.get(l.ref),_=t?t.get(l.ref):null,c=_?_.status:"";return f`<g
          key=${l.ref}
          class=${`node s-${c||"none"}${n===l.ref?" selected":""}`}
          data-node-ref=${l.ref}
          data-status=${c}
          transform=${`translate(${d.x},${d.y})`}
          tabindex="0"
          onClick=${()=>o&&o(l.ref)}
          onKeyDown=${p=>p.key==="Enter"&&o&&o(l.ref)}
        >
          <title>${l.ref}: ${c||l.kind}</title>
          <rect width=${176} height=${58} rx="8" />
          <text x="12" y="22" class="ref">${l.ref.length>22?`${l.ref.slice(0,21)}\u2026`:l.ref}</text>
          <text x="12" y="42" class="detail">${He(l,_)}${l.for_each&&!_?.item_count?" \xB7 for_each":""}</text>
          ${_&&_.child_run_id?f`<a href=${`#/runs/${_.child_run_id}`} data-child-run=${_.child_run_id} onClick=${p=>p.stopPropagation()}>
                <text x=${164} y="22" class="child" text-anchor="end">child ↗</text>
              </a>`:null}
        </g>`})}
    </svg>
  </div>`}function ce(e,t){return t&&t.nodes?t.nodes:(e.nodes||[]).map(n=>({ref:n.ref,kind:n.kind,depends_on:n.depends_on,fallback:n.fallback}))}var We=2e3,_t=new Set(["succeeded","failed","cancelled","timed_out"]),Ue=new Set(["failed","cancelled","timed_out"]);function Le(e,t){return t.noRoute?`This stack's API has no ${e} yet (HTTP ${t.status}).`:`${e} refused: ${t.message}`}function de({runId:e,go:t}){let[n,o]=k(null),[i,r]=k(null),[s,a]=k(""),[l,d]=k(null),[_,c]=k(null),[p,u]=le(),$=Zt(null);async function m(){let y=(await O(`/runs/${encodeURIComponent(e)}`)).data;o(y);let E=y.workflow_version&&`${y.workflow_id}@${y.workflow_version}`;if(E&&$.current!==E){let I=await O(`/workflows/${encodeURIComponent(y.workflow_id)}${G({version:y.workflow_version})}`);$.current=E,r(I.data)}return y}if(M(()=>{let y=!0,E=null,I=!1,H=async()=>{if(!y||I)return;I=!0,clearTimeout(E);let D=null;try{document.visibilityState!=="hidden"&&(D=await m()),a("")}catch(T){if(y&&a(T.status===404?`Run ${e} not found (404).`:T.message),T.status===404)return}finally{I=!1}y&&!(D&&_t.has(D.status))&&(E=setTimeout(H,We))};H();let R=()=>document.visibilityState==="visible"&&H();return document.addEventListener("visibilitychange",R),()=>{y=!1,clearTimeout(E),document.removeEventListener("visibilitychange",R)}},[e,n&&_t.has(n.status)?"ended":"live"]),s&&!n)return f`<p class="error" role="alert" data-test="run-error">${s}</p>`;if(!n)return f`<p>Loading ${e}…</p>`;let g=new Map(n.nodes.map(y=>[y.ref,y])),w=ce(n,i);function v(y,E,I,H){p(E,async()=>{c(null);try{let R=await I();if(H&&H(R))return;c({ok:!0,text:`${y}: done.`}),await m()}catch(R){c({ok:!1,text:Le(y,R)}),R.status===409&&await m().catch(()=>{})}})}let b=encodeURIComponent(n.id),h=[];!_t.has(n.status)&&n.kind!=="external"&&h.push(f`<button data-test="cancel" class="danger" onClick=${()=>v("Cancel",`Cancel run ${n.id}? Running nodes are stopped.`,()=>W(`/runs/${b}/cancel`,{}),y=>y&&y.data&&o({...n,...y.data}))}>Cancel</button>`);let P=n.status==="paused";return n.status==="running"&&!P&&h.push(f`<button data-test="pause" class="secondary" onClick=${()=>v("Pause","Pause this run? Running nodes finish; nothing new starts.",()=>W(`/runs/${b}/pause`,{}))}>Pause</button>`),P&&h.push(f`<button data-test="resume" onClick=${()=>v("Resume","Resume this run?",()=>W(`/runs/${b}/resume`,{}))}>Resume</button>`),Ue.has(n.status)&&n.kind!=="external"&&h.push(f`<button data-test="redrive" onClick=${()=>v("Redrive","Redrive this run? Succeeded nodes keep their outputs; the others run again.",()=>W(`/runs/${b}/redrive`,{}))}>Redrive</button>`),f`<section class="run">
    <h2><a href="#/runs">Runs</a> / ${n.id} <span data-test="run-status" data-status=${n.status}><${z} status=${n.status} /></span></h2>
    <dl class="facts">
      <dt>Workflow</dt><dd><a href=${`#/workflows/${n.workflow_id}`}>${n.workflow_id}</a>${n.workflow_version?` v${n.workflow_version}`:""}</dd>
      <dt>Created</dt><dd>${N(n.created_at)}</dd>
      <dt>Finished</dt><dd>${N(n.finished_at)}</dd>
      ${n.parent_run_id?f`<dt>Parent</dt><dd><a href=${`#/runs/${n.parent_run_id}`}>${n.parent_run_id}</a></dd>`:null}
      ${n.batch_id?f`<dt>Batch</dt><dd>${n.batch_id}</dd>`:null}
      ${n.rerun_of?f`<dt>Rerun of</dt><dd><a data-test="rerun-of" href=${`#/runs/${n.rerun_of}`}>${n.rerun_of}</a></dd>`:null}
      ${n.reruns&&n.reruns.length?f`<dt>Reruns</dt><dd data-test="reruns">${n.reruns.map((y,E)=>f`${E?", ":""}<a href=${`#/runs/${y}`}>${y}</a>`)}</dd>`:null}
      ${n.redrive_count?f`<dt>Redriven</dt><dd data-test="redrives">${n.redrive_count===1?"once":`${n.redrive_count} times`}, last ${N(n.redriven_at)}</dd>`:null}
      ${n.error?f`<dt>Error</dt><dd class="error">${n.error.node?`${n.error.node}: `:""}${n.error.type}: ${n.error.message}</dd>`:null}
    </dl>
    <div class="actions">${h}</div>
    ${_?f`<p class=${_.ok?"ok":"error"} role="status" data-test="flash">${_.text}</p>`:null}
    ${s?f`<p class="error" role="alert">${s}</p>`:null}
    <${lt} nodes=${w} states=${g} selected=${l} onSelect=${d} />
    <div class="legend"><span class="edge-key success">success</span><span class="edge-key error">error</span></div>
    ${l&&g.get(l)?f`<${Be} run=${n} node=${g.get(l)}
          spec=${(i?i.nodes:[]).find(y=>y.ref===l)}
          act=${v} go=${t} setRun=${o} />`:f`<p class="hint">Select a node to see its spec, input, output, attempts, records and logs.</p>`}
    <details><summary>Run input and output</summary>
      <h4>Input</h4><pre>${B(n.input)}</pre><h4>Output</h4><pre>${B(n.output)}</pre>
    </details>
    ${u}
  </section>`}function Be({run:e,node:t,spec:n,act:o,go:i,setRun:r}){let[s,a]=k(null),[l,d]=k(null),[_,c]=k(null),[p,u]=k(""),$=encodeURIComponent(e.id),m=encodeURIComponent(t.ref);M(()=>{let h=!0;return O(`/runs/${$}/actions`).then(P=>h&&a(P.data.filter(y=>y.node_ref===t.ref))).catch(()=>h&&a([])),O(`/runs/${$}/logs?limit=1000`).then(P=>h&&d(P.data.filter(y=>y.node_ref===t.ref))).catch(()=>h&&d([])),t.output_omitted&&O(`/runs/${$}/nodes/${m}`).then(P=>h&&c(P.data)).catch(()=>{}),()=>{h=!1}},[e.id,t.ref,t.status,t.attempt]);let g=t.kind==="approval"&&t.status==="running"&&!t.review,w=h=>o(h==="approve"?"Approve":"Reject",`${h==="approve"?"Approve":"Reject"} ${t.ref}?`,()=>W(`/runs/${$}/nodes/${m}/approval`,{decision:h,...p?{comment:p}:{}}),P=>P&&P.data&&r({...e,nodes:e.nodes.map(y=>y.ref===t.ref?P.data:y)})),v=()=>o("Rerun",`Start a new run from ${t.ref}? Nodes not downstream of it keep their outputs.`,()=>W(`/runs/${$}/rerun`,{from:t.ref}),h=>h&&h.data&&h.data.id?(i(`/runs/${h.data.id}`),!0):!1),b=s&&s.length?s[0].input:void 0;return f`<aside class="panel" data-test="node-panel" data-node=${t.ref}>
    <h3>${t.ref} <${z} status=${t.status} /> <small>${t.kind}</small></h3>
    <div class="actions">
      ${g?f`
        <input data-test="review-comment" placeholder="comment (optional)" value=${p} onInput=${h=>u(h.target.value)} />
        <button data-test="approve" onClick=${()=>w("approve")}>Approve</button>
        <button data-test="reject" class="danger" onClick=${()=>w("reject")}>Reject</button>`:null}
      ${_t.has(e.status)&&e.kind!=="external"?f`<button data-test="rerun" class="secondary" onClick=${v}>Rerun from here</button>`:null}
    </div>
    <dl class="facts">
      <dt>Scheduled</dt><dd>${N(t.scheduled_at)}</dd>
      <dt>Started</dt><dd>${N(t.started_at)}</dd>
      <dt>Finished</dt><dd>${N(t.finished_at)}</dd>
      ${t.item_count?f`<dt>Items</dt><dd data-test="items">${t.items_done??0} of ${t.item_count} done <small>(counted as their chunks finish)</small></dd>`:null}
      ${t.child_run_id?f`<dt>Child run</dt><dd><a data-test="child-run" href=${`#/runs/${t.child_run_id}`}>${t.child_run_id}</a></dd>`:null}
      ${t.skip_reason?f`<dt>Skipped</dt><dd>${t.skip_reason}</dd>`:null}
    </dl>
    ${t.error?f`<h4>Error</h4><pre class="error" data-test="node-error">${t.error.type}: ${t.error.message}</pre>`:null}
    ${t.review?f`<h4>Review</h4><pre data-test="node-review">${B(t.review)}</pre>`:null}
    <h4>Output</h4><pre data-test="node-output">${B(_?_.output:t.output)}</pre>
    <h4>Input</h4><pre>${b===void 0?"\u2014 (an action node's record holds its input)":B(b)}</pre>
    <h4>Attempts</h4>
    <table class="attempts"><thead><tr><th>#</th><th>Status</th><th>Started</th><th>Completed</th><th>Error</th></tr></thead>
      <tbody>${t.attempts.map(h=>f`<tr data-attempt=${h.attempt}><td>${h.attempt}</td><td><${z} status=${h.status} /></td>
        <td>${N(h.started_at)}</td><td>${N(h.completed_at)}</td><td>${h.error?`${h.error.type}: ${h.error.message}`:""}</td></tr>`)}</tbody>
    </table>
    <h4>Action record events</h4>
    ${s===null?f`<p>…</p>`:s.length===0?f`<p class="hint">None (not an action node).</p>`:s.map(h=>f`<pre data-test="record-events">${B(h.events)}</pre>`)}
    <h4>Logs</h4>
    ${l===null?f`<p>…</p>`:l.length===0?f`<p class="hint">No log lines.</p>`:f`<ul class="logs">${l.map(h=>f`<li class=${`log-${h.level}`}>${N(h.timestamp)} ${h.level} ${h.message}</li>`)}</ul>`}
    <h4>Spec</h4><pre data-test="node-spec">${B(n)}</pre>
  </aside>`}var je=["","queued","running","paused","succeeded","failed","cancelled","timed_out"],Fe={status:"",workflow_id:"",tag:"",batch_id:"",created_after:"",created_before:"",limit:""};function fe(e){return e?new Date(e).toISOString():""}function qe(e,t){return G({limit:e.limit||20,status:e.status,workflow_id:e.workflow_id.trim(),batch_id:e.batch_id.trim(),tag:e.tag.split(",").map(n=>n.trim()).filter(Boolean),created_after:fe(e.created_after),created_before:fe(e.created_before),cursor:t})}function pe({params:e,go:t}){let n={...Fe,...e},[o,i]=k(n),[r,s]=k(n),[a,l]=k(null),[d,_]=k(null),[c,p]=k("");M(()=>{let m=!0;return p(""),O(`/runs${qe(r,a)}`).then(g=>m&&_(g)).catch(g=>m&&p(g.message)),()=>{m=!1}},[r,a]);let u=m=>g=>i({...o,[m]:g.target.value}),$=m=>{m.preventDefault(),l(null),s({...o})};return f`<section>
    <h2>Runs ${d&&d.total!==null&&d.total!==void 0?f`<span class="total" data-test="runs-total">${d.total} in all</span>`:null}</h2>
    <form class="filters" onSubmit=${$}>
      <label>Status <select data-test="filter-status" value=${o.status} onChange=${u("status")}>
        ${je.map(m=>f`<option value=${m}>${m||"any"}</option>`)}
      </select></label>
      <label>Workflow <input data-test="filter-workflow" value=${o.workflow_id} placeholder="wf_…" onInput=${u("workflow_id")} /></label>
      <label>Tags <input data-test="filter-tag" value=${o.tag} placeholder="key=value, …" onInput=${u("tag")} /></label>
      <label>Batch <input data-test="filter-batch" value=${o.batch_id} placeholder="batch_…" onInput=${u("batch_id")} /></label>
      <label>After <input data-test="filter-after" type="datetime-local" value=${o.created_after} onInput=${u("created_after")} /></label>
      <label>Before <input data-test="filter-before" type="datetime-local" value=${o.created_before} onInput=${u("created_before")} /></label>
      <button type="submit" data-test="filter-apply">Filter</button>
    </form>
    ${c?f`<p class="error" role="alert" data-test="runs-error">${c}</p>`:null}
    <table class="runs">
      <thead><tr><th>Run</th><th>Status</th><th>Workflow</th><th>Created</th><th>Finished</th><th>Tags</th></tr></thead>
      <tbody>
        ${(d?d.data:[]).map(m=>f`<tr key=${m.id} data-run-id=${m.id} data-status=${m.status}
              class="clickable" onClick=${()=>t(`/runs/${m.id}`)}>
            <td><a href=${`#/runs/${m.id}`}>${m.id}</a></td>
            <td><${z} status=${m.status} /></td>
            <td>${m.workflow_id}${m.workflow_version?` v${m.workflow_version}`:""}</td>
            <td>${N(m.created_at)}</td>
            <td>${N(m.finished_at)}</td>
            <td>${Object.entries(m.tags||{}).map(([g,w])=>f`<span class="tag">${g}=${w}</span>`)}</td>
          </tr>`)}
      </tbody>
    </table>
    ${d&&d.data.length===0?f`<p class="empty">No runs match.</p>`:null}
    <div class="pager">
      <button data-test="page-newer" class="secondary" disabled=${!d||!d.previous_page}
        onClick=${()=>l(d.previous_page)}>← Newer</button>
      <button data-test="page-older" class="secondary" disabled=${!d||!d.next_page}
        onClick=${()=>l(d.next_page)}>Older →</button>
    </div>
  </section>`}function he({onSignedIn:e,notice:t}){let[n,o]=k(""),[i,r]=k(""),[s,a]=k(t||""),[l,d]=k(!1);async function _(c){c.preventDefault(),d(!0),a("");let p={org:n.trim(),key:i.trim()};try{await ut("GET","/runs?limit=1",void 0,p),ne(p.org,p.key),e()}catch(u){a(Ge(u,p.org))}finally{d(!1)}}return f`<form class="signin" onSubmit=${_}>
    <h1>Stepwise</h1>
    <label>Org <input data-test="org" name="org" value=${n} required autocomplete="organization"
      onInput=${c=>o(c.target.value)} /></label>
    <label>API key <input data-test="api-key" name="api-key" type="password" value=${i} required
      autocomplete="off" onInput=${c=>r(c.target.value)} /></label>
    <button data-test="sign-in" type="submit" disabled=${l}>Sign in</button>
    ${s?f`<p class="error" data-test="sign-in-error" role="alert">${s}</p>`:null}
    <p class="hint">The key stays in this browser tab (session storage) and is sent only in the
      Authorization header.</p>
  </form>`}function Ge(e,t){return e instanceof q?e.status===401?"Wrong API key: the API does not know this key (401).":e.status===404?`This key does not belong to org "${t}" (404).`:e.status===403?`This key may not list runs: ${e.message}`:e.status===422?`Org: ${e.message}`:`Sign-in failed: ${e.message}`:`The API could not be reached: ${e.message}`}function me({go:e}){let[t,n]=k(null),[o,i]=k(null),[r,s]=k("");return M(()=>{O(`/workflows${G({limit:50,cursor:o})}`).then(n).catch(a=>s(a.message))},[o]),f`<section>
    <h2>Workflows</h2>
    ${r?f`<p class="error" role="alert">${r}</p>`:null}
    <table class="runs"><thead><tr><th>Workflow</th><th>Name</th><th>Latest version</th><th>Updated</th></tr></thead>
      <tbody>${(t?t.data:[]).map(a=>f`<tr key=${a.id} data-workflow-id=${a.id} class="clickable" onClick=${()=>e(`/workflows/${a.id}`)}>
        <td><a href=${`#/workflows/${a.id}`}>${a.id}</a></td><td>${a.name}</td><td>${a.latest_version}</td><td>${N(a.updated_at)}</td></tr>`)}</tbody>
    </table>
    ${t&&t.data.length===0?f`<p class="empty">No workflows yet.</p>`:null}
    <div class="pager">
      <button class="secondary" disabled=${!t||!t.next_page} onClick=${()=>i(t.next_page)}>More →</button>
    </div>
  </section>`}function $e({workflowId:e,params:t,go:n}){let[o,i]=k([]),[r,s]=k(null),[a,l]=k(""),d=t.version?Number(t.version):null,_=encodeURIComponent(e);return M(()=>{O(`/workflows/${_}/versions?limit=100`).then(c=>i(c.data)).catch(()=>{})},[e]),M(()=>{O(`/workflows/${_}${G({version:d})}`).then(c=>s(c.data)).catch(c=>l(c.message))},[e,d]),a?f`<p class="error" role="alert">${a}</p>`:r?f`<section>
    <h2><a href="#/workflows">Workflows</a> / ${r.name} <small>${r.id}</small></h2>
    <p>${r.description||""}</p>
    <label>Version <select data-test="version" value=${r.version}
      onChange=${c=>n(`/workflows/${e}?version=${c.target.value}`)}>
      ${(o.length?o:[r]).map(c=>f`<option value=${c.version}>v${c.version} · ${N(c.created_at)}</option>`)}
    </select></label>
    <a class="button secondary" href=${`#/runs?workflow_id=${r.id}`}>Its runs</a>
    <${lt} nodes=${r.nodes} />
    <${ze} workflow=${r} go=${n} />
    <details><summary>Definition (v${r.version})</summary><pre>${JSON.stringify(r,null,2)}</pre></details>
  </section>`:f`<p>Loading ${e}…</p>`}function ze({workflow:e,go:t}){let[n,o]=k("{}"),[i,r]=k([]),[s,a]=k(!1);async function l(d){d.preventDefault();let _;try{_=JSON.parse(n)}catch(c){r([{field:"input",message:`not valid JSON: ${c.message}`}]);return}a(!0),r([]);try{let c=await W("/runs",{workflow_id:e.id,input:_});t(`/runs/${c.data.id}`)}catch(c){r(c instanceof q&&c.fields.length?c.fields:[{field:"",message:c.message}])}finally{a(!1)}}return f`<form class="start" onSubmit=${l}>
    <h3>Start a run of the latest version</h3>
    <textarea data-test="run-input" rows="6" spellcheck="false" value=${n} onInput=${d=>o(d.target.value)}></textarea>
    <button data-test="start-run" type="submit" disabled=${s}>Start run</button>
    ${i.map(d=>f`<p class="error" role="alert" data-test="start-error" data-field=${d.field}>${d.field?f`<b>${d.field}</b>: `:null}${d.message}</p>`)}
  </form>`}function ge(){let[e,t=""]=location.hash.replace(/^#/,"").split("?");return{parts:e.split("/").filter(Boolean).map(decodeURIComponent),params:Object.fromEntries(new URLSearchParams(t))}}function ct(e){location.hash=e}function Ve(){let[e,t]=k(ge()),[n,o]=k(!!Q()),[i,r]=k("");if(M(()=>{let d=()=>t(ge());return addEventListener("hashchange",d),se(()=>{Pt(),r("The API refused the key (401): sign in again."),o(!1)}),()=>removeEventListener("hashchange",d)},[]),!n)return f`<${he} notice=${i} onSignedIn=${()=>{r(""),o(!0)}} />`;let{parts:s,params:a}=e,l;return s[0]==="runs"&&s[1]?l=f`<${de} key=${s[1]} runId=${s[1]} go=${ct} />`:s[0]==="workflows"&&s[1]?l=f`<${$e} key=${s[1]} workflowId=${s[1]} params=${a} go=${ct} />`:s[0]==="workflows"?l=f`<${me} go=${ct} />`:l=f`<${pe} key=${JSON.stringify(a)} params=${a} go=${ct} />`,f`<div>
    <header>
      <strong>Stepwise</strong>
      <nav><a href="#/runs" class=${s[0]!=="workflows"?"active":""}>Runs</a>
        <a href="#/workflows" class=${s[0]==="workflows"?"active":""}>Workflows</a></nav>
      <span class="who" data-test="signed-in-org">${Q().org}</span>
      <button data-test="sign-out" class="secondary" onClick=${()=>{Pt(),o(!1)}}>Sign out</button>
    </header>
    <main>${l}</main>
  </div>`}jt(f`<${Ve} />`,document.getElementById("app"));
