package podtest

import (
	"encoding/json"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// AdmissionRequest is the CREATE request the apiserver sends for pod, as the ReplicaSet
// controller's, with the pod's JSON as the raw object.
func AdmissionRequest(pod *corev1.Pod, uid string) (admissionv1.AdmissionRequest, error) {
	raw, err := json.Marshal(pod)
	if err != nil {
		return admissionv1.AdmissionRequest{}, fmt.Errorf("encode pod: %w", err)
	}
	opts, err := json.Marshal(metav1.CreateOptions{TypeMeta: metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "CreateOptions"}})
	if err != nil {
		return admissionv1.AdmissionRequest{}, fmt.Errorf("encode options: %w", err)
	}
	kind := metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}
	res := metav1.GroupVersionResource{Version: "v1", Resource: "pods"}
	return admissionv1.AdmissionRequest{
		UID: types.UID(uid), Kind: kind, Resource: res, RequestKind: &kind, RequestResource: &res,
		Name: pod.Name, Namespace: pod.Namespace, Operation: admissionv1.Create,
		UserInfo: authenticationv1.UserInfo{
			Username: "system:serviceaccount:kube-system:replicaset-controller",
			UID:      "5b0a3c1e-8d2f-4e6a-9c7b-1f3d5e7a9b2c",
			Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"},
		},
		Object:  runtime.RawExtension{Raw: raw},
		DryRun:  ptr.To(false),
		Options: runtime.RawExtension{Raw: opts},
	}, nil
}

// Review is the AdmissionReview body the apiserver POSTs for pod: what the load harness
// sends and what the floor server decodes.
func Review(pod *corev1.Pod, uid string) ([]byte, error) {
	req, err := AdmissionRequest(pod, uid)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request:  &req,
	})
	if err != nil {
		return nil, fmt.Errorf("encode admission review: %w", err)
	}
	return body, nil
}
